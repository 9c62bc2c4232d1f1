"""How a task's jobs (train, evaluate, predict, export, prune) move the task and what their status integers are (pure).

Only the task's latest job of a kind (`Task.jobs[kind]`) moves it. A training job's outcome comes
from its `done` report when there is one (finished, stopped with a checkpoint, or a problem the
user can fix), else from how the process ended; the two may arrive in either order, so the status
is derived again on both.
"""

from __future__ import annotations

from typing import Any, Mapping

from pdxsrv.domain.enums import PredictStatus, PruneStatus, TaskStatus
from pdxsrv.domain.jobs import ACTIVE, job_outcome
from pdxsrv.domain.state import Job, Task, evolve


def is_current(task: Task, job: Job) -> bool:
    """Whether `job` is the task's latest job of its kind."""
    return task.jobs.get(job.kind) == job.id


def after_job(task: Task, job: Job, jobs: Mapping[str, Job]) -> Task:
    """The task after a change of its job `job` (state or report); `jobs` are all jobs, by id."""
    if not is_current(task, job):
        return task
    if job.kind == "train":
        status, message = train_status(job)
        if status == TaskStatus.XTRAINING and task.parent_id:
            status = TaskStatus.XPRUNETRAIN
        return evolve(task, status=status, message=message)
    if job.kind == "prune":
        if job.state in ACTIVE:
            return evolve(task, status=TaskStatus.XPRUNEING, message="")
        if task.status == TaskStatus.XPRUNEING:  # back to what training (and evaluation) left
            return evolve(task, **dict(zip(("status", "message"), resting_status(task, jobs))))
    if job.kind == "evaluate" and job.state not in ACTIVE and job.result.get("ok") and task.status in (
        TaskStatus.XTRAINDONE, TaskStatus.XTRAINEXIT, TaskStatus.XEVALUATED
    ):
        return evolve(task, status=TaskStatus.XEVALUATED)
    if job.kind == "export":
        status, message = export_status(job)
        return evolve(task, status=status, message=message)
    return task


def resting_status(task: Task, jobs: Mapping[str, Job]) -> tuple[TaskStatus, str]:
    """The task's status once a side job (pruning analysis) ends: its training's, XEVALUATED if evaluated."""
    train = jobs.get(task.jobs.get("train", ""))
    if train is None:
        return TaskStatus.XINIT, ""
    status, message = train_status(train)
    evaluation = jobs.get(task.jobs.get("evaluate", ""))
    if status == TaskStatus.XTRAINDONE and evaluation is not None and evaluation.result.get("ok"):
        return TaskStatus.XEVALUATED, ""
    return status, message


def prune_status(job: Job) -> tuple[PruneStatus, str]:
    """XSPRUNESTART / XSPRUNEING / XSPRUNEDONE / XSPRUNEFAIL / XSPRUNEEXIT of a pruning analysis, with a message."""
    if job.state == "queued":
        return PruneStatus.XSPRUNESTART, "the pruning analysis is starting"
    if job.state in ACTIVE:
        p = job.progress
        done = f" ({p['done']}/{p['total']} evaluations)" if p.get("total") else ""
        return PruneStatus.XSPRUNEING, f"analysing sensitivities{done}"
    if job.result.get("ok"):
        return PruneStatus.XSPRUNEDONE, "the pruning analysis is done"
    if job.state == "killed":
        return PruneStatus.XSPRUNEEXIT, "the pruning analysis was stopped"
    return PruneStatus.XSPRUNEFAIL, str(job.result.get("message") or job_outcome(job))


def export_status(job: Job) -> tuple[TaskStatus, str]:
    """XEXPORTING / XEXPORTED / XEXPORTFAIL of an export job, with the task's message."""
    if job.state in ACTIVE:
        return TaskStatus.XEXPORTING, ""
    if job.result.get("ok"):
        return TaskStatus.XEXPORTED, f"exported to {job.result.get('save_dir')}"
    if job.state == "killed":
        return TaskStatus.XEXPORTFAIL, "the export was stopped; nothing was written"
    return TaskStatus.XEXPORTFAIL, str(job.result.get("message") or job_outcome(job))


def train_status(job: Job) -> tuple[TaskStatus, str]:
    """The task status and message a training job gives its task."""
    if job.state in ACTIVE:
        p = job.progress
        if p.get("phase") == "downloading":
            total = f" of {p['total'] / 1e6:.1f}" if p.get("total") else ""
            return TaskStatus.XTRAINING, f"downloading the pretrained weights: {p.get('done', 0) / 1e6:.1f}{total} MB"
        return TaskStatus.XTRAINING, ""
    result = job.result
    if result.get("ok") is False:  # a problem the job explained
        return TaskStatus.XTRAINFAIL, str(result.get("message") or job_outcome(job))
    if result.get("stopped") and result.get("phase") == "downloading":
        return TaskStatus.XTRAINEXIT, ("stopped while downloading the pretrained weights; the part downloaded is kept "
                                       "and POST /project/task/train resumes it")
    if result.get("stopped"):
        done = f"epoch {result.get('epoch')}" + (f", step {result['step']}" if result.get("step") else "")
        return TaskStatus.XTRAINEXIT, f"stopped; saved up to {done}; resume with epoch {result.get('epoch')}"
    if job.state == "killed":
        return TaskStatus.XTRAINEXIT, job_outcome(job)
    if job.state == "exited":
        return TaskStatus.XTRAINDONE, ""
    return TaskStatus.XTRAINFAIL, job_outcome(job)


def evaluate_status(job: Job | None) -> TaskStatus | None:
    """XEVALUATING / XEVALUATED / XEVALUATEFAIL of an evaluation job (None: never evaluated)."""
    if job is None:
        return None
    if job.state in ACTIVE:
        return TaskStatus.XEVALUATING
    return TaskStatus.XEVALUATED if job.result.get("ok") else TaskStatus.XEVALUATEFAIL


def predict_status(job: Job | None) -> PredictStatus | None:
    """XPRESTART / XPREDONE / XPREFAIL of a prediction job (None: never predicted)."""
    if job is None:
        return None
    if job.state in ACTIVE:
        return PredictStatus.XPRESTART
    return PredictStatus.XPREDONE if job.result.get("ok") else PredictStatus.XPREFAIL


def with_metric(task: Task, job: Job, data: dict[str, Any]) -> Task:
    """Record a training evaluation's metrics under its epoch."""
    if job.kind != "train" or not isinstance(data.get("metrics"), dict) or data.get("epoch") is None:
        return task
    return evolve(task, evals={**task.evals, str(data["epoch"]): dict(data["metrics"])})


def started(task: Task, job: str, kind: str, resume_epoch: int | None) -> Task:
    """The task once a job of `kind` was started on it."""
    jobs = {**task.jobs, kind: job}
    if kind == "export":
        return evolve(task, jobs=jobs, status=TaskStatus.XEXPORTING, message="")
    if kind == "prune":
        return evolve(task, jobs=jobs, status=TaskStatus.XPRUNEING, message="")
    if kind != "train":
        return evolve(task, jobs=jobs)
    keep = {} if resume_epoch is None else {e: m for e, m in task.evals.items() if int(e) <= resume_epoch}
    status = TaskStatus.XPRUNETRAIN if task.parent_id else TaskStatus.XTRAINING
    return evolve(task, jobs=jobs, status=status, message="", evals=keep)
