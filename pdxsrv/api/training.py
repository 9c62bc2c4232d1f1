"""/project/task/train (start, stop, resume) and /project/task/metrics."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pdxsrv import files, missing, system
from pdxsrv.api.errors import NotStarted
from pdxsrv.api.task_jobs import TaskJobHandler, prune_log
from pdxsrv.api.tasks import whole_number
from pdxsrv.api.train_log import eval_all, eval_metric, train_log
from pdxsrv.domain import commands
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.params import DEFAULT_MODEL
from pdxsrv.domain.queries import active_jobs, current_job
from pdxsrv.domain.task_jobs import prune_status
from pdxsrv.domain.state import Task, Workspace
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.paths import confine
from pdxsrv.weights import KEYWORDS, NoWeights, lookup

STOP_GRACE = 120.0  # seconds a training job gets to finish its step and save before it is killed
STOP_WAIT = 30.0  # how long PUT stop waits for the job to end before answering


class TrainHandler(TaskJobHandler):
    """POST start training; PUT stop or resume."""

    async def post(self) -> None:
        state, task = await self.task()
        pruning = self._pruning(state, task)
        if not self.args["discard"] and not active_jobs(state, task.id):  # a running job: _start says so
            self._refuse_replacing(task)
        await self._start(state, task, None, pruning)
        self.ok()

    def _refuse_replacing(self, task: Task) -> None:
        """A fresh start would replace the task's trained model: refused unless `discard` says so."""
        task_path = self.task_path(task)
        epochs = files.saved_epochs(task_path)
        if not epochs and files.best_model_dir(task_path) is None:
            return
        num_epochs = whole_number(task.params.get("num_epochs"))
        resume = (f"resume it (PUT /project/task/train {{tid: {task.id}, act: resume, epoch: {epochs[-1]}}}) or "
                  if epochs and num_epochs is not None and epochs[-1] < num_epochs else "")
        raise Conflict(
            f"task {task.id} already has a trained model (checkpoints of epochs {', '.join(map(str, epochs))}"
            f"{' and best_model' if files.best_model_dir(task_path) else ''}); training again would replace it, "
            f"with its evaluation and the model its exports came from. To keep it, {resume}train a new task "
            f"(POST /project/task with pid {task.pid} and this task's parameters from GET /project/task/params "
            f"{{tid: {task.id}}}); to discard it and train this task afresh, POST /project/task/train "
            f"{{tid: {task.id}, discard: true}}"
        )

    def _pruning(self, state: Workspace, task: Task) -> dict[str, Any] | None:
        """The job's `prune` part for a pruning task (parent's model, its sensitivities, the FLOPs share)."""
        pruned_flops, loss = self.args["pruned_flops"], self.args["eval_metric_loss"]
        if not task.parent_id:
            if pruned_flops is not None or loss is not None:
                raise Conflict(f"task {task.id} is not a pruning task (it has no parent_id); pruned_flops needs one")
            return None
        if pruned_flops is None and loss is None:
            raise InvalidArgument(f"task {task.id} prunes task {task.parent_id}: give pruned_flops, the share of "
                                  "FLOPs to remove (e.g. 0.3)")
        for name, value in (("pruned_flops", pruned_flops), ("eval_metric_loss", loss)):
            if value is not None and not 0 < value < 1:
                raise InvalidArgument(f"{name} must be between 0 and 1 (a share), got {value}")
        parent = commands.get_task(state, task.parent_id)
        analysis = current_job(state, parent, "prune")
        if analysis is None or analysis.state in ACTIVE or not analysis.result.get("ok"):
            raise Conflict(f"task {parent.id} has no finished pruning analysis; POST /project/task/prune "
                           f"{{tid: {parent.id}}} and wait for it to finish first")
        return {"parent": self.require_model(parent), "sensitivities": analysis.result["sensitivities"],
                "pruned_flops": pruned_flops, "eval_metric_loss": loss}

    async def put(self) -> None:
        state, task = await self.task()
        if self.args["act"] == "stop":
            await self._stop(task)
            self.ok()
            return
        epoch = self.args["epoch"]
        if epoch is None:
            raise InvalidArgument("argument 'epoch' is required to resume: the epoch whose checkpoint to resume from")
        self.require_model(task, epoch)
        num_epochs = whole_number(task.params.get("num_epochs"))
        if num_epochs is not None and epoch >= num_epochs:
            raise Conflict(f"task {task.id} already trained all {num_epochs} epochs; nothing to resume")
        await self._start(state, task, epoch)
        self.ok()

    async def _start(self, state: Workspace, task: Task, resume_epoch: int | None,
                     pruning: dict[str, Any] | None = None) -> None:
        project = commands.get_project(state, task.pid)
        dataset = commands.get_dataset(state, project.did)
        if dataset.status != DatasetStatus.XSPLITED:
            raise Conflict(f"dataset {dataset.id} is not split (status {dataset.status.name}); split it first")
        missing.require_dataset(self.store.root, dataset)
        params = {"model": DEFAULT_MODEL.get(project.type, ""), **task.params}
        if resume_epoch is not None:
            pretrained = None
        else:
            pretrained = pruning.pop("parent") if pruning else self._pretrained(state, params)
        gpus = await asyncio.get_running_loop().run_in_executor(None, _gpus, params.get("cuda_visible_devices"))
        job = commands.next_job_id(state, task.id, "train")
        commands.start_task_job(state, task.id, "train", job, resume_epoch)  # refuses before anything starts
        supervision = self.supervision()
        task_path = self.task_path(task)
        if resume_epoch is None:
            files.remove_tree(os.path.join(task_path, "output"))  # a fresh start replaces the last run
        await supervision.spawn(job, "train", {
            "task_dir": task_path, "dataset_dir": files.dataset_dir(self.store.root, dataset.id),
            "project_type": project.type, "split": dataset.split, "params": params,
            "seed": int(params.get("seed") or 0), "resume_epoch": resume_epoch, "pretrained": pretrained,
            "prune": pruning, "roots": list(self.ctx.roots), "step_costs": self.ctx.step_costs,
        }, gpus=gpus, grace=STOP_GRACE)
        await self.store.execute(commands.start_task_job, task.id, "train", job, resume_epoch)

    def _pretrained(self, state: Workspace, params: dict[str, Any]) -> str | dict[str, Any] | None:
        """Where the starting weights come from: None (from scratch), published weights (the job takes them from
        the weights cache or downloads them), a registered pretrained model, or a path."""
        value = params.get("pretrain_weights")
        if value in (None, "", False) or str(value).lower() == "none":
            return None
        value = str(value)
        if value.upper() in KEYWORDS:
            return self._published(params, value)
        if value in state.pretrained_models:
            problem = missing.pretrained_problem(self.store.root, state.pretrained_models[value])
            if problem:
                raise missing.FilesMissing(f"pretrain_weights {value!r}: pretrained model {value}: {problem}")
            path = files.pretrained_dir(self.store.root, value)
        else:
            path = confine(value, self.ctx.roots, "pretrain_weights")
        if os.path.isdir(path):
            path = os.path.join(path, "model.pdparams")
        if not os.path.isfile(path):
            raise InvalidArgument(f"pretrain_weights {value!r} has no weights file ({path} is missing)")
        return confine(path, self.ctx.roots, "pretrain_weights")  # the file itself: a link out is refused

    def _published(self, params: dict[str, Any], keyword: str) -> dict[str, Any]:
        """The job's `pretrained` part for IMAGENET/COCO/CITYSCAPES: refused at once when it cannot be had offline."""
        weights = self.ctx.weights
        try:
            entry = lookup(str(params.get("model")), keyword, params.get("backbone"))
        except NoWeights as exc:
            raise InvalidArgument(f"pretrain_weights {keyword!r}: {exc}") from None
        if weights.offline and not weights.cached(entry.model, entry.keyword, entry.backbone):
            raise Conflict(
                f"pretrain_weights {keyword!r}: the {entry.keyword} weights of {entry.model} are not in the weights "
                f"cache and this server runs --offline (it downloads nothing). Put the file from {entry.url} at "
                f"{weights.path(entry.model, entry.keyword, entry.backbone)} (or run `pdxsrv weights pull "
                f"{entry.model} {entry.keyword}` where there is a network), start pdxsrv with --weights-mirror URL "
                f"where URL serves {entry.mirror_name}, or set pretrain_weights to null to train from scratch"
            )
        return {"model": entry.model, "keyword": entry.keyword, "backbone": entry.backbone,
                "weights_dir": weights.dir, "mirror": weights.mirror}

    async def _stop(self, task: Task) -> None:
        state = await self.store.durable_state()
        job = current_job(state, task, "train")
        if job is None or job.state not in ACTIVE:
            raise Conflict(f"task {task.id} is not training (status {task.status.name})")
        await self.supervision().client.stop(job.id, grace=STOP_GRACE)
        await self.wait_for(lambda s: job.id in s.jobs and s.jobs[job.id].state not in ACTIVE, STOP_WAIT)


def _gpus(visible: Any) -> list[int]:
    """The GPU indices of `cuda_visible_devices` ("0", "0, 1", [0, 1], "" for the CPU), checked against the machine."""
    if visible in (None, "", []):
        return []
    items = visible if isinstance(visible, list) else str(visible).replace(" ", "").split(",")
    try:
        gpus = [int(item) for item in items if str(item) != ""]
    except ValueError:
        raise InvalidArgument(f"cuda_visible_devices {visible!r} must list GPU numbers, e.g. \"0\" or \"0,1\"") from None
    present = len(system.gpu_memory())
    missing = [g for g in gpus if not 0 <= g < present]
    if missing:
        raise InvalidArgument(f"cuda_visible_devices {visible!r} names GPU {missing[0]}, but this machine has "
                              f"{present} GPU(s); use \"\" to train on the CPU")
    return gpus


class MetricsHandler(TaskJobHandler):
    """GET training log, evaluation metrics (best, or per epoch), sensitivities or pruning log."""

    async def get(self) -> None:
        state, task = await self.task()
        kind = self.args["type"]
        job = current_job(state, task, "train")
        if kind in ("sensitivities", "prune"):
            self._pruning_metrics(state, task, kind)
            return
        if job is None:
            raise NotStarted(f"task {task.id} has not trained yet: there are no {kind} metrics")
        if kind == "train":
            self.ok(train_log=train_log(state, task, job))
        elif kind == "eval":
            self.ok(eval_metric=eval_metric(task, job))
        else:
            if not task.evals:
                raise NotStarted(f"task {task.id} has not been evaluated during training yet (no epoch saved)")
            self.ok(**eval_all(task))

    def _pruning_metrics(self, state: Workspace, task: Task, kind: str) -> None:
        """`prune`: the analysis' progress; `sensitivities`: its results and chart."""
        job = current_job(state, task, "prune")
        if job is None:
            raise NotStarted(f"no pruning analysis has run for task {task.id}; POST /project/task/prune starts one")
        if kind == "prune":
            self.ok(prune_log=prune_log(job, self.store.root))
            return
        if not job.result.get("ok"):
            status, message = prune_status(job)
            raise NotStarted(f"task {task.id}'s pruning analysis has no sensitivities ({status.name}: {message})")
        sensitivities = dict(job.result["sensitivities"])
        self.ok(sensitivities_loss_img=sensitivities.pop("loss_img"), sensitivities=sensitivities,
                chart_path=job.result.get("chart"))
