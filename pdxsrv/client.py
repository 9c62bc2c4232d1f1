"""A small Python client of the pdxsrv HTTP API: one method per operation.

    from pdxsrv.client import Client
    c = Client("http://127.0.0.1:8080")
    did = c.create_dataset("flowers", "classification")["did"]

Each method returns the decoded answer and raises `ApiError` (with `message` and `code`) when the
server answers `status == -1`. Arguments travel as a JSON body, as the original's clients send them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ApiError(Exception):
    """The server refused: `message` says why, `code` is stable."""

    def __init__(self, message: str, code: str, http_status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.http_status = message, code, http_status


class Client:
    """Talks to one pdxsrv server."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _send(self, method: str, route: str, body: dict[str, Any]) -> tuple[int, bytes, bool]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body else None
        request = urllib.request.Request(self.url + route, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read(), "Content-Disposition" in response.headers
        except urllib.error.HTTPError as err:
            return err.code, err.read(), False

    def call(self, method: str, route: str, /, **args: Any) -> dict[str, Any]:
        """Send one request; arguments whose value is None are left out. A file comes back as `content`."""
        status, raw, is_file = self._send(method, route, {k: v for k, v in args.items() if v is not None})
        if is_file:
            return {"status": 1, "content": raw}
        answer = json.loads(raw)
        if answer.get("status") != 1:
            raise ApiError(answer.get("message", ""), answer.get("code", ""), status)
        return answer

    # /workspace
    def workspace(self) -> dict[str, Any]:
        return self.call("GET", "/workspace")

    def get_attributes(self, struct: str, id: str, attr_list: list[str] | None = None) -> dict[str, Any]:
        return self.call("GET", "/workspace", struct=struct, id=id, attr_list=attr_list)

    def set_attributes(self, struct: str, id: str, attr_dict: dict[str, Any]) -> dict[str, Any]:
        return self.call("PUT", "/workspace", struct=struct, id=id, attr_dict=attr_dict)

    # /dataset
    def datasets(self) -> dict[str, Any]:
        return self.call("GET", "/dataset")

    def dataset(self, did: str) -> dict[str, Any]:
        return self.call("GET", "/dataset", did=did)

    def create_dataset(self, name: str, dataset_type: str, desc: str = "") -> dict[str, Any]:
        return self.call("POST", "/dataset", name=name, desc=desc, dataset_type=dataset_type)

    def import_dataset(self, did: str, path: str) -> dict[str, Any]:
        return self.call("PUT", "/dataset", did=did, path=path)

    def delete_dataset(self, did: str) -> dict[str, Any]:
        return self.call("DELETE", "/dataset", did=did)

    def dataset_details(self, did: str) -> dict[str, Any]:
        return self.call("GET", "/dataset/details", did=did)

    def split_dataset(self, did: str, val_split: float, test_split: float = 0.0) -> dict[str, Any]:
        return self.call("PUT", "/dataset/split", did=did, val_split=val_split, test_split=test_split)

    def file(self, path: str, did: str | None = None) -> dict[str, Any]:
        return self.call("GET", "/file", path=path, did=did)

    # /project
    def projects(self) -> dict[str, Any]:
        return self.call("GET", "/project")

    def project(self, pid: str) -> dict[str, Any]:
        return self.call("GET", "/project", id=pid)

    def create_project(self, name: str, project_type: str, desc: str = "") -> dict[str, Any]:
        return self.call("POST", "/project", name=name, desc=desc, project_type=project_type)

    def delete_project(self, pid: str) -> dict[str, Any]:
        return self.call("DELETE", "/project", pid=pid)

    # /project/task
    def tasks(self, pid: str | None = None) -> dict[str, Any]:
        return self.call("GET", "/project/task", pid=pid)

    def task(self, tid: str, resume: bool = False) -> dict[str, Any]:
        return self.call("GET", "/project/task", tid=tid, resume=resume or None)

    def create_task(self, pid: str, train: dict[str, Any] | None = None, desc: str = "",
                    parent_id: str | None = None) -> dict[str, Any]:
        return self.call("POST", "/project/task", pid=pid, train=train, desc=desc, parent_id=parent_id)

    def delete_task(self, tid: str) -> dict[str, Any]:
        return self.call("DELETE", "/project/task", tid=tid)

    def task_params(self, tid: str) -> dict[str, Any]:
        return self.call("GET", "/project/task/params", tid=tid)

    def recommended_params(self, pid: str, model_type: str | None = None,
                           gpu_list: list[int] | None = None) -> dict[str, Any]:
        return self.call("GET", "/project/task/params", pid=pid, model_type=model_type, gpu_list=gpu_list)

    def set_task_params(self, tid: str, train: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/project/task/params", tid=tid, train=train)

    # jobs of a task
    def train(self, tid: str, pruned_flops: float | None = None, discard: bool = False) -> dict[str, Any]:
        return self.call("POST", "/project/task/train", tid=tid, pruned_flops=pruned_flops, discard=discard or None)

    def stop_training(self, tid: str) -> dict[str, Any]:
        return self.call("PUT", "/project/task/train", tid=tid, act="stop")

    def resume_training(self, tid: str, epoch: int) -> dict[str, Any]:
        return self.call("PUT", "/project/task/train", tid=tid, act="resume", epoch=epoch)

    def prune_status(self, tid: str) -> dict[str, Any]:
        return self.call("GET", "/project/task/prune", tid=tid)

    def start_prune(self, tid: str) -> dict[str, Any]:
        return self.call("POST", "/project/task/prune", tid=tid)

    def stop_prune(self, tid: str) -> dict[str, Any]:
        return self.call("PUT", "/project/task/prune", tid=tid, act="stop")

    def evaluation(self, tid: str) -> dict[str, Any]:
        return self.call("GET", "/project/task/evaluate", tid=tid)

    def evaluate(self, tid: str, epoch: int | None = None, topk: int | None = None,
                 score_thresh: float | None = None, overlap_thresh: float | None = None) -> dict[str, Any]:
        return self.call("POST", "/project/task/evaluate", tid=tid, epoch=epoch, topk=topk,
                         score_thresh=score_thresh, overlap_thresh=overlap_thresh)

    def metrics(self, tid: str, type: str) -> dict[str, Any]:
        return self.call("GET", "/project/task/metrics", tid=tid, type=type)

    def prediction(self, tid: str) -> dict[str, Any]:
        return self.call("GET", "/project/task/predict", tid=tid)

    def predict(self, tid: str, image_data: str | None = None, img_list: list[str] | None = None,
                score_thresh: float | None = None, epoch: int | None = None) -> dict[str, Any]:
        return self.call("POST", "/project/task/predict", tid=tid, image_data=image_data, img_list=img_list,
                         score_thresh=score_thresh, epoch=epoch)

    def stop_prediction(self, tid: str) -> dict[str, Any]:
        return self.call("PUT", "/project/task/predict", tid=tid)

    def export_status(self, tid: str, quant: str | None = None) -> dict[str, Any]:
        return self.call("GET", "/project/task/export", tid=tid, quant=quant)

    def export(self, tid: str, type: str, save_dir: str, epoch: int | None = None, quant: bool | None = None,
               model_path: str | None = None) -> dict[str, Any]:
        return self.call("POST", "/project/task/export", tid=tid, type=type, save_dir=save_dir, epoch=epoch,
                         quant=quant, model_path=model_path)

    def stop_export(self, tid: str) -> dict[str, Any]:
        return self.call("PUT", "/project/task/export", tid=tid)

    def vdl(self, tid: str) -> dict[str, Any]:
        return self.call("GET", "/project/task/vdl", tid=tid)

    # /system, /demo
    def machine_info(self) -> dict[str, Any]:
        return self.call("GET", "/system", type="machine_info")

    def gpu_memory(self) -> dict[str, Any]:
        return self.call("GET", "/system", type="gpu_memory_size")

    def stop_all_jobs(self) -> dict[str, Any]:
        return self.call("DELETE", "/system")

    def demo_status(self, prj_type: int | str) -> dict[str, Any]:
        return self.call("GET", "/demo", prj_type=prj_type)

    def demo(self, type: str, prj_type: int | str) -> dict[str, Any]:
        return self.call("POST", "/demo", type=type, prj_type=prj_type)

    def cancel_demo(self, prj_type: int | str) -> dict[str, Any]:
        return self.call("PUT", "/demo", prj_type=prj_type)

    # /model
    def models(self, type: str) -> dict[str, Any]:
        return self.call("GET", "/model", type=type)

    def model(self, mid: str) -> dict[str, Any]:
        return self.call("GET", "/model", mid=mid)

    def save_pretrained(self, pid: str, tid: str, name: str, source_path: str | None = None,
                        eval_results: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("POST", "/model", type="pretrained", pid=pid, tid=tid, name=name,
                         source_path=source_path, eval_results=eval_results)

    def record_exported(self, pid: str, tid: str, name: str, path: str, exported_type: int = 0) -> dict[str, Any]:
        return self.call("POST", "/model", type="exported", pid=pid, tid=tid, name=name, path=path,
                         exported_type=exported_type)

    def delete_model(self, type: str, mid: str) -> dict[str, Any]:
        key = "pmid" if type == "pretrained" else "emid"
        return self.call("DELETE", "/model", type=type, **{key: mid})

    def openapi(self) -> dict[str, Any]:
        return json.loads(self._send("GET", "/openapi.json", {})[1])
