"""The shared base of the task routes whose work runs in a job; export; the pruning analysis (VisualDL: api/vdl.py)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable

from pdxsrv import files, missing
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import JobFailed, NotAvailable, NotStarted
from pdxsrv.domain import commands
from pdxsrv.domain.enums import TaskStatus
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.domain.params import DEFAULT_MODEL, ONNX_UNSUPPORTED, PRUNE_UNSUPPORTED, QUANTIZABLE_TYPES, refusal
from pdxsrv.domain.queries import current_job
from pdxsrv.domain.task_jobs import export_status, prune_status
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.state import Dataset, Job, Task, Workspace
from pdxsrv.paths import confine
from pdxsrv.supervision import Supervision, job_dir_for

STOP_WAIT = 15.0

# The original's QuantLogReader stages (PaddleSlim's log lines) and the share of the work done, per job stage.
QUANT_STAGES = {"load": (None, 0.0), "trace": (None, 0.1), "calibrate": ("Batch", 0.3), "write": ("Weight", 0.6),
                "evaluate": ("Activation", 0.8)}


def quant_log(job: Job, root: str) -> dict[str, Any]:
    """GET export {quant: 'log'}: the original's {log_file, stage, running_duration (0..1)}."""
    if job.result.get("quant_result"):
        stage, share = "Finish", 1.0
    else:
        stage, share = QUANT_STAGES.get(str(job.progress.get("stage")), (None, 0.0))
    return {"log_file": os.path.join(job_dir_for(root, job.id), "out.log"), "stage": stage, "running_duration": share}


class TaskJobHandler(APIHandler):
    """Shared lookups of the task routes."""

    async def task(self) -> tuple[Workspace, Task]:
        """The durable state and the task named by `tid`."""
        state = await self.store.durable_state()
        return state, commands.get_task(state, self.args["tid"])

    def task_path(self, task: Task) -> str:
        """The task's directory."""
        return files.task_dir(self.store.root, task.pid, task.id)

    def require_dataset(self, state: Workspace, project_id: str) -> Dataset:
        """The project's dataset, whose files must be in the workspace (FilesMissing otherwise)."""
        dataset = commands.get_dataset(state, commands.get_project(state, project_id).did)
        missing.require_dataset(self.store.root, dataset)
        return dataset

    def require_model(self, task: Task, epoch: int | None = None) -> str:
        """The task's best model directory (or that of `epoch`), or Conflict (FilesMissing: the log says it saved
        one, but its files are not in the workspace)."""
        lost = missing.missing_model(self.store.root, self.store.state, task)
        if lost is not None:
            raise lost
        if epoch is not None:
            path = os.path.join(self.task_path(task), "output", f"epoch_{epoch}")
            if not os.path.isdir(path):
                saved = ", ".join(map(str, files.saved_epochs(self.task_path(task)))) or "none"
                raise Conflict(f"task {task.id} has no checkpoint of epoch {epoch}; saved epochs: {saved}")
            return path
        path = files.best_model_dir(self.task_path(task))
        if path is None:
            raise Conflict(f"task {task.id} has no trained model yet (output/best_model); train it first")
        return path

    def supervision(self) -> Supervision:
        """The supervisor link, or NotAvailable when the server runs without one."""
        if self.ctx.supervision is None:
            raise NotAvailable("this work runs as a job, and this server runs with --no-supervisor")
        return self.ctx.supervision

    async def stop_job(self, kind: str, what: str) -> Job:
        """Stop the task's running job of `kind` (Conflict if none runs); the job once it ended."""
        state, task = await self.task()
        job = current_job(state, task, kind)
        if job is None or job.state not in ACTIVE:
            raise Conflict(f"no {what} is running for task {task.id}")
        await self.supervision().client.stop(job.id, grace=5.0)
        state = await self.wait_for(lambda s: job.id in s.jobs and s.jobs[job.id].state not in ACTIVE, STOP_WAIT)
        return state.jobs.get(job.id, job)

    async def wait_for(self, done: Callable[[Workspace], bool], timeout: float) -> Workspace:
        """Wait until `done(state)` holds (or the timeout passes); return the durable state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(self.store.state) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        return await self.store.durable_state()


def prune_log(job: Job, root: str) -> dict[str, Any]:
    """GET metrics {type: 'prune'}: the original's PruneLogReader `{log_file, eta, iters, current, progress}`."""
    p = job.progress
    total, done = p.get("total"), p.get("done")
    if job.result.get("ok"):
        done = total
    return {"log_file": os.path.join(job_dir_for(root, job.id), "out.log"), "eta": p.get("eta"), "iters": total,
            "current": done, "progress": (done / total) if total and done is not None else 0.0,
            "layer": p.get("layer")}


class PruneHandler(TaskJobHandler):
    """GET the sensitivity analysis' status; POST start it (`pdxsrv.jobs.prune`); PUT stop it."""

    async def get(self) -> None:
        state, task = await self.task()
        job = current_job(state, task, "prune")
        if job is None:
            raise NotStarted(f"no pruning analysis has run for task {task.id}; POST /project/task/prune starts one")
        status, message = prune_status(job)
        self.ok(prune_status=int(status), message=message)

    async def post(self) -> None:
        state, task = await self.task()
        project = commands.get_project(state, task.pid)
        model = str(task.params.get("model") or DEFAULT_MODEL[project.type])
        why = refusal(PRUNE_UNSUPPORTED, project.type, model)
        if why:
            raise NotAvailable(f"{model} ({project.type}) cannot be pruned: {why}")
        model_dir = self.require_model(task)
        dataset = self.require_dataset(state, task.pid)
        job = commands.next_job_id(state, task.id, "prune")
        commands.start_task_job(state, task.id, "prune", job)
        await self.supervision().spawn(job, "prune", {
            "model_dir": model_dir, "dataset_dir": files.dataset_dir(self.store.root, dataset.id),
            "project_type": project.type, "split": dataset.split, "out_dir": os.path.join(self.task_path(task), "prune"),
        })
        await self.store.execute(commands.start_task_job, task.id, "prune", job)
        self.ok()

    async def put(self) -> None:
        status, message = prune_status(await self.stop_job("prune", "pruning analysis"))
        self.ok(prune_status=int(status), message=message)


class ExportHandler(TaskJobHandler):
    """GET export status (or quantization log/result); POST export; PUT stop.

    `type: infer` (optionally `quant: true`) and `type: onnx` run the export job
    (`pdxsrv.jobs.export`); Lite is refused with what is missing, changing nothing.
    """

    async def get(self) -> None:
        state, task = await self.task()
        job = current_job(state, task, "export")
        if job is None:
            raise NotStarted(f"task {task.id} has not been exported; POST /project/task/export starts an export")
        if self.args["quant"] == "log":
            self.ok(quant_log=quant_log(job, self.store.root))
            return
        if self.args["quant"] == "result":
            self.ok(quant_result=dict(job.result.get("quant_result") or {}))
            return
        status, message = export_status(job)
        if status == TaskStatus.XEXPORTFAIL:
            raise JobFailed(f"the export of {task.id} failed: {message}", export_status=int(status))
        if status == TaskStatus.XEXPORTING:
            stage = job.progress.get("stage")
            message = f"{task.id} is being exported" + (f" ({stage})" if stage else "")
        elif status == TaskStatus.XEXPORTED and not os.path.isdir(str(job.result.get("save_dir"))):
            reason = missing.why(self.store.root, task.id, "the folder no longer exists")
            message = f"{message}, but those files are missing ({reason}); export again"
        self.ok(export_status=int(status), message=message, save_dir=job.result.get("save_dir"))

    async def post(self) -> None:
        state, task = await self.task()
        a = self.args
        if a["model_path"] is not None and a["type"] != "lite":
            raise InvalidArgument(f"model_path is only for type 'lite' (the inference model to convert); a "
                                  f"{a['type']!r} export is made from the task's own trained model (choose it with "
                                  "epoch): leave model_path out")
        if a["model_path"] is not None:
            confine(a["model_path"], self.ctx.roots, "model_path")
        if a["save_dir"] is None:
            raise InvalidArgument("argument 'save_dir' is required: the directory to export the model to")
        save_dir = confine(a["save_dir"], self.ctx.roots, "save_dir")
        if os.path.exists(save_dir) and not os.path.isdir(save_dir):
            raise InvalidArgument(f"save_dir {a['save_dir']!r} is a file; give a directory to export into")
        if a["type"] == "lite":
            raise NotAvailable("Paddle Lite export needs a Paddle Lite build for this Python, and there is none: "
                               "paddlelite's wheels stop at Python 3.10 (2.13rc0), pdxsrv runs on 3.11+. Export type "
                               "'infer' and convert it with Paddle Lite's `opt` tool (a binary on "
                               "github.com/PaddlePaddle/Paddle-Lite/releases); pdxsrv does not, as it could not "
                               "verify the result here. Nothing was changed")
        project = commands.get_project(state, task.pid)
        if a["quant"] and (a["type"] == "onnx" or project.type not in QUANTIZABLE_TYPES):
            raise InvalidArgument(f"quantized export is for {', '.join(QUANTIZABLE_TYPES)} models, exported as type "
                                  f"'infer'; this is a {project.type} task exported as {a['type']!r}")
        model = str(task.params.get("model") or DEFAULT_MODEL[project.type])
        why = refusal(ONNX_UNSUPPORTED, project.type, model) if a["type"] == "onnx" and not a["quant"] else None
        if why:
            raise NotAvailable(f"{model} cannot be exported to ONNX: {why}; export type 'infer' instead")
        model_dir = self.require_model(task, a["epoch"])
        dataset = self.require_dataset(state, task.pid)
        job = commands.next_job_id(state, task.id, "export")
        commands.start_task_job(state, task.id, "export", job)
        await self.supervision().spawn(job, "export", {
            "model_dir": model_dir, "save_dir": save_dir, "dataset_dir": files.dataset_dir(self.store.root, dataset.id),
            "project_type": project.type, "split": dataset.split, "epoch": a["epoch"],
            "format": "onnx" if a["type"] == "onnx" else "paddle", "quant": bool(a["quant"]),
        })
        await self.store.execute(commands.start_task_job, task.id, "export", job)
        self.ok(save_dir=save_dir, message=f"exporting {task.id} to {save_dir}")

    async def put(self) -> None:
        status, message = export_status(await self.stop_job("export", "export"))
        self.ok(export_status=int(status), message=message)

