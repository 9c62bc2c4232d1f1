"""/project/task/evaluate and /project/task/predict: jobs that use a trained model."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import shutil
from typing import Any

from pdxsrv import files, missing
from pdxsrv.api.errors import JobFailed, NotStarted
from pdxsrv.api.task_jobs import TaskJobHandler
from pdxsrv.datasets import details
from pdxsrv.datasets.imagecheck import BadImage, probe
from pdxsrv.domain import commands
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.jobs import ACTIVE, job_outcome
from pdxsrv.domain.queries import current_job
from pdxsrv.domain.state import Job, Task
from pdxsrv.domain.task_jobs import evaluate_status, predict_status
from pdxsrv.paths import confine

RESULTS = "visualized_test_results"
MAGIC = ((b"\xff\xd8", ".jpg"), (b"\x89PNG", ".png"), (b"BM", ".bmp"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


def evaluation_file(task_path: str) -> str:
    """Where the latest evaluation report is written."""
    return os.path.join(task_path, "evaluate", "result.json")


class EvaluateHandler(TaskJobHandler):
    """GET the evaluation status and result; POST start an evaluation."""

    async def get(self) -> None:
        state, task = await self.task()
        job = current_job(state, task, "evaluate")
        status = evaluate_status(job)
        if job is None or status is None:
            raise NotStarted(f"task {task.id} has not been evaluated; POST /project/task/evaluate starts an evaluation")
        path = evaluation_file(self.task_path(task))
        if job.state in ACTIVE:
            done, total = job.progress.get("done"), job.progress.get("total")
            where = f" ({done}/{total} batches)" if total else ""
            self.ok(evaluate_status=int(status), message=f"{task.id} is being evaluated{where}", result=None)
        elif not job.result.get("ok"):
            raise JobFailed(f"the evaluation failed: {job.result.get('message') or job_outcome(job)}",
                            evaluate_status=int(status))
        else:
            result = await asyncio.get_running_loop().run_in_executor(None, _read_json, path)
            if result is None:
                reason = missing.why(self.store.root, f"{task.id}/evaluate", f"{path} does not exist")
                raise JobFailed(f"the evaluation result is missing ({reason}); evaluate again",
                                evaluate_status=int(status))
            else:
                self.ok(evaluate_status=int(status), message=f"{task.id} evaluated", result=result, path=path)

    async def post(self) -> None:
        state, task = await self.task()
        a = self.args
        model_dir = self.require_model(task, a["epoch"])
        if a["topk"] is not None and a["topk"] < 1:
            raise InvalidArgument(f"topk {a['topk']} must be at least 1")
        project = commands.get_project(state, task.pid)
        dataset = commands.get_dataset(state, project.did)
        if dataset.status != DatasetStatus.XSPLITED:
            raise Conflict(f"dataset {dataset.id} is not split (status {dataset.status.name}); split it first")
        missing.require_dataset(self.store.root, dataset)
        job = commands.next_job_id(state, task.id, "evaluate")
        commands.start_task_job(state, task.id, "evaluate", job)
        await self.supervision().spawn(job, "evaluate", {
            "model_dir": model_dir, "dataset_dir": files.dataset_dir(self.store.root, dataset.id),
            "project_type": project.type, "split": dataset.split, "epoch": a["epoch"],
            "options": {"topk": a["topk"], "score_thresh": a["score_thresh"], "overlap_thresh": a["overlap_thresh"]},
            "result": evaluation_file(self.task_path(task)),
        })
        await self.store.execute(commands.start_task_job, task.id, "evaluate", job)
        self.ok()


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class PredictHandler(TaskJobHandler):
    """GET prediction status; POST predict an image (image_data) or images (img_list); PUT stop."""

    async def get(self) -> None:
        state, task = await self.task()
        self._status(task, current_job(state, task, "predict"))

    def _status(self, task: Task, job: Job | None) -> None:
        status = predict_status(job)
        if job is None or status is None:
            raise NotStarted(f"no prediction has run for task {task.id}; POST /project/task/predict starts one")
        total = job.progress.get("total") or len(job.result.get("results") or []) or None
        done = len(job.result["results"]) if "results" in job.result else job.progress.get("done", 0)
        if job.state in ACTIVE:
            message = f"predicting ({done}/{total or '?'} images)"
        elif job.result.get("ok"):
            message = "prediction finished"
        elif job.state == "killed":
            message = f"the prediction was stopped after {done} of {total or '?'} images"
        else:
            message = f"the prediction failed: {job.result.get('message') or job_outcome(job)}"
        self.ok(predict_status=int(status), message=message, predict_num=done, total_num=total,
                results=job.result.get("results"))

    async def post(self) -> None:
        state, task = await self.task()
        a = self.args
        if a["save_dir"] is not None:
            raise InvalidArgument("save_dir is not taken by predict: results are always drawn into the task's "
                                  f"{RESULTS}/ folder (the answer's path, and GET /project/task/predict's results, "
                                  "name the files; GET /file fetches them); leave save_dir out")
        model_dir = self.require_model(task, a["epoch"])
        out_dir = os.path.join(self.task_path(task), RESULTS)
        job = commands.next_job_id(state, task.id, "predict")
        commands.start_task_job(state, task.id, "predict", job)
        images, outputs = self._inputs(state, task, job, out_dir)
        supervision = self.supervision()
        shutil.rmtree(out_dir, ignore_errors=True)
        await supervision.spawn(job, "predict", {
            "model_dir": model_dir, "images": images, "outputs": outputs,
            "options": {"score_thresh": a["score_thresh"]},
        })
        await self.store.execute(commands.start_task_job, task.id, "predict", job)
        if a["image_data"] is not None:
            self.ok(path=outputs[0])
        else:
            self.ok()

    def _inputs(self, state: Any, task: Task, job: str, out_dir: str) -> tuple[list[str], list[str]]:
        """The images to predict and the PNG each result is drawn to."""
        a = self.args
        if a["image_data"] is not None:
            return [self._decoded(task, job, a["image_data"])], [os.path.join(out_dir, "predict_result.png")]
        if a["img_list"]:
            images = [confine(path, self.ctx.roots, "img_list entry") for path in a["img_list"]]
            for path, given in zip(images, a["img_list"]):
                if not os.path.isfile(path):
                    raise InvalidArgument(f"img_list entry {given!r} is not a file")
        else:
            project = commands.get_project(state, task.pid)
            dataset = commands.get_dataset(state, project.did)
            missing.require_dataset(self.store.root, dataset)
            found = details.resolved(files.dataset_dir(self.store.root, dataset.id), dataset.type, dataset.split)
            chosen = found.get("test_files") or found.get("val_files") or []
            if not chosen:
                raise InvalidArgument("give image_data or img_list: the dataset has no test or val images to predict")
            images = [os.path.join(files.dataset_dir(self.store.root, dataset.id), image) for image in chosen]
        outputs = [os.path.join(out_dir, f"{i:04d}_{os.path.splitext(os.path.basename(p))[0]}.png")
                   for i, p in enumerate(images)]
        return images, outputs

    def _decoded(self, task: Task, job: str, data: str) -> str:
        """Write the base64 image to the task's predict directory; InvalidArgument unless it is an image."""
        if data.startswith("data:") and "," in data:
            data = data.split(",", 1)[1]
        try:
            raw = base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            raise InvalidArgument("image_data is not valid base64") from None
        extension = next((ext for magic, ext in MAGIC if raw.startswith(magic)), None)
        if extension is None:
            raise InvalidArgument("image_data is not a JPEG, PNG, BMP or TIFF image (base64 of the file's bytes)")
        folder = os.path.join(self.task_path(task), "predict")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{job}{extension}")
        with open(path, "wb") as f:
            f.write(raw)
        try:
            whole = extension == ".tif" or probe(path) is not None
        except BadImage as exc:
            whole, extension = False, str(exc)
        if not whole:
            os.remove(path)
            raise InvalidArgument(f"image_data is not a whole image: {extension}")
        return path

    async def put(self) -> None:
        _, task = await self.task()
        self._status(task, await self.stop_job("predict", "prediction"))
