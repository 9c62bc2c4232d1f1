"""Task routes whose work runs in a job: train, prune, evaluate, metrics, predict, export, vdl.

Each validates its arguments and the state it needs now; the jobs themselves are not built yet, so
a request that passes every check is answered `not_available` and changes nothing.
"""

from __future__ import annotations

from pdxsrv import files
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable, NotStarted
from pdxsrv.domain import commands
from pdxsrv.domain.enums import DatasetStatus, TaskStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.state import Task, Workspace
from pdxsrv.paths import confine

TRAINING = (TaskStatus.XTRAINING, TaskStatus.XPRUNETRAIN)


def _not_built(what: str) -> NotAvailable:
    return NotAvailable(f"{what} is not available in this build of pdxsrv yet; nothing was changed")


class TaskJobHandler(APIHandler):
    """Shared lookups of the task routes."""

    async def task(self) -> tuple[Workspace, Task]:
        """The durable state and the task named by `tid`."""
        state = await self.store.durable_state()
        return state, commands.get_task(state, self.args["tid"])

    def task_path(self, task: Task) -> str:
        """The task's directory."""
        return files.task_dir(self.store.root, task.pid, task.id)

    def require_model(self, task: Task) -> str:
        """The task's best model directory, or Conflict."""
        path = files.best_model_dir(self.task_path(task))
        if path is None:
            raise Conflict(f"task {task.id} has no trained model yet (output/best_model); train it first")
        return path


class TrainHandler(TaskJobHandler):
    """POST start training (or prune-training); PUT stop or resume."""

    async def post(self) -> None:
        state, task = await self.task()
        if self.args["pruned_flops"] is not None and not task.parent_id:
            raise Conflict(f"task {task.id} is not a pruning task (it has no parent_id); pruned_flops needs one")
        if task.status in TRAINING:
            raise Conflict(f"task {task.id} is already training")
        dataset = commands.get_dataset(state, commands.get_project(state, task.pid).did)
        if dataset.status != DatasetStatus.XSPLITED:
            raise Conflict(f"dataset {dataset.id} is not split (status {dataset.status.name}); split it first")
        raise _not_built("training")

    async def put(self) -> None:
        _, task = await self.task()
        if self.args["act"] == "stop":
            if task.status not in TRAINING:
                raise Conflict(f"task {task.id} is not training (status {task.status.name})")
            raise _not_built("stopping training")
        epoch = self.args["epoch"]
        if epoch is None:
            raise InvalidArgument("argument 'epoch' is required to resume: the epoch whose checkpoint to resume from")
        saved = files.saved_epochs(self.task_path(task))
        if epoch not in saved:
            have = ", ".join(map(str, saved)) or "none"
            raise Conflict(f"task {task.id} has no checkpoint of epoch {epoch}; saved epochs: {have}")
        raise _not_built("resuming training")


class PruneHandler(TaskJobHandler):
    """GET the sensitivity analysis' status; POST start it; PUT stop it."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"no pruning analysis has run for task {task.id}; POST /project/task/prune starts one")

    async def post(self) -> None:
        _, task = await self.task()
        self.require_model(task)
        raise _not_built("pruning analysis")

    async def put(self) -> None:
        _, task = await self.task()
        raise Conflict(f"no pruning analysis is running for task {task.id}")


class EvaluateHandler(TaskJobHandler):
    """GET the evaluation result; POST start an evaluation."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"task {task.id} has not been evaluated; POST /project/task/evaluate starts an evaluation")

    async def post(self) -> None:
        _, task = await self.task()
        self.require_model(task)
        raise _not_built("evaluation")


class MetricsHandler(TaskJobHandler):
    """GET training log, evaluation metrics, sensitivities or pruning log."""

    async def get(self) -> None:
        _, task = await self.task()
        kind = self.args["type"]
        if kind in ("train", "eval", "eval_all"):
            raise NotStarted(f"task {task.id} has not trained yet: there are no {kind} metrics")
        raise NotStarted(f"no pruning analysis has run for task {task.id}: there are no {kind} results")


class PredictHandler(TaskJobHandler):
    """GET prediction status; POST predict an image (or images); PUT stop."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"no prediction has run for task {task.id}; POST /project/task/predict starts one")

    async def post(self) -> None:
        _, task = await self.task()
        for path in self.args["img_list"] or []:
            confine(path, self.ctx.roots, "img_list entry")
        self.require_model(task)
        raise _not_built("prediction")

    async def put(self) -> None:
        _, task = await self.task()
        raise Conflict(f"no prediction is running for task {task.id}")


class ExportHandler(TaskJobHandler):
    """GET export status (or quantization log/result); POST export; PUT stop."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"task {task.id} has not been exported; POST /project/task/export starts an export")

    async def post(self) -> None:
        _, task = await self.task()
        for name in ("save_dir", "model_path"):
            if self.args[name] is not None:
                confine(self.args[name], self.ctx.roots, name)
        if self.args["save_dir"] is None:
            raise InvalidArgument("argument 'save_dir' is required: the directory to export the model to")
        if self.args["type"] != "lite":
            self.require_model(task)
        raise _not_built("export")

    async def put(self) -> None:
        _, task = await self.task()
        raise Conflict(f"no export is running for task {task.id}")


class VdlHandler(TaskJobHandler):
    """GET the URL of a VisualDL server for the task's logs."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"task {task.id} has no training logs yet (output/vdl_log); train it first")
