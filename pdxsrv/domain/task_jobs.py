"""How a task's jobs (train, evaluate, predict, export) move the task and what their status integers are (pure).

Only the task's latest job of a kind (`Task.jobs[kind]`) moves it. A training job's outcome comes
from its `done` report when there is one (finished, stopped with a checkpoint, or a problem the
user can fix), else from how the process ended; the two may arrive in either order, so the status
is derived again on both.
"""

from __future__ import annotations

from typing import Any

from pdxsrv.domain.enums import PredictStatus, TaskStatus
from pdxsrv.domain.jobs import ACTIVE, job_outcome
from pdxsrv.domain.state import Job, Task, evolve


def is_current(task: Task, job: Job) -> bool:
    """Whether `job` is the task's latest job of its kind."""
    return task.jobs.get(job.kind) == job.id


def after_job(task: Task, job: Job) -> Task:
    """The task after a change of its job `job` (state or report)."""
    if not is_current(task, job):
        return task
    if job.kind == "train":
        status, message = train_status(job)
        return evolve(task, status=status, message=message)
    if job.kind == "evaluate" and job.state not in ACTIVE and job.result.get("ok") and task.status in (
        TaskStatus.XTRAINDONE, TaskStatus.XTRAINEXIT, TaskStatus.XEVALUATED
    ):
        return evolve(task, status=TaskStatus.XEVALUATED)
    if job.kind == "export":
        status, message = export_status(job)
        return evolve(task, status=status, message=message)
    return task


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
        return TaskStatus.XTRAINING, ""
    result = job.result
    if result.get("ok") is False:  # a problem the job explained
        return TaskStatus.XTRAINFAIL, str(result.get("message") or job_outcome(job))
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
    if kind != "train":
        return evolve(task, jobs=jobs)
    keep = {} if resume_epoch is None else {e: m for e, m in task.evals.items() if int(e) <= resume_epoch}
    return evolve(task, jobs=jobs, status=TaskStatus.XTRAINING, message="", evals=keep)
