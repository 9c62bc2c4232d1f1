"""GET /project/task/metrics answers, built from the training jobs' reports in the log (never from log text).

`train_log` keeps the original's keys (§4.13): `log_file, eta, train_metrics, eval_metrics,
download_status, eval_done, train_error, train_stage, running_duration`, where `train_metrics`
and `eval_metrics` use the original's capitalised `Epoch`/`Step` keys; it adds `progress`
(0..1) and `best`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pdxsrv.domain.enums import TaskStatus
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.domain.state import Job, Task, Workspace

STAGES = {TaskStatus.XTRAINDONE: "Train Complete", TaskStatus.XTRAINEXIT: "Train Stopped",
          TaskStatus.XTRAINFAIL: "Train Failed"}
TRAIN_KEYS = ("loss", "lr", "time_each_step", "speed")


def duration(seconds: float) -> str:
    """The original's "{h}小时{m}分{s}秒"."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}小时{seconds % 3600 // 60}分{seconds % 60}秒"


def running_seconds(state: Workspace, task: Task, now: float) -> float:
    """Time spent running over all of the task's training jobs (a resumed run adds up)."""
    total = 0.0
    for job in state.jobs.values():
        if job.subject == task.id and job.kind == "train" and job.started:
            total += (job.ended or now) - job.started
    return total


def train_log(state: Workspace, task: Task, job: Job, now: float | None = None) -> dict[str, Any]:
    """The training log of the task's latest training job."""
    now = time.time() if now is None else now
    p, m = job.progress, job.last_metric
    train_metrics = None
    if p.get("step") is not None:
        train_metrics = {"Epoch": p.get("epoch"), "Step": p.get("step"), "Steps": p.get("steps"),
                         **{k: p[k] for k in TRAIN_KEYS if k in p}}
    eval_metrics = {"Epoch": m.get("epoch"), **(m.get("metrics") or {})} if m else None
    active = job.state in ACTIVE
    done_steps = ((p.get("epoch") or 1) - 1) * (p.get("steps") or 0) + (p.get("step") or 0)
    total_steps = (p.get("num_epochs") or 0) * (p.get("steps") or 0)
    return {
        "log_file": os.path.join(".pdxsrv", "jobs", job.id, "out.log"),
        "eta": (p.get("eta") if active else 0) if p else None,
        "train_metrics": train_metrics,
        "eval_metrics": eval_metrics,
        "download_status": download_status(job),
        "eval_done": bool(task.evals),
        "train_error": task.message if task.status == TaskStatus.XTRAINFAIL else None,
        "train_stage": "Training" if active else STAGES.get(task.status),
        "running_duration": duration(running_seconds(state, task, now)),
        "progress": 1.0 if task.status == TaskStatus.XTRAINDONE else (done_steps / total_steps if total_steps else 0.0),
        "best": (job.result or {}).get("best") or m.get("best"),
        "pruning": (job.result or {}).get("pruning") or None,  # a pruned task: FLOPs and parameters before/after
    }


def download_status(job: Job) -> Any:
    """The original's: `{"download", "total", "speed"}` (MB, MB, "KB/s") while downloading pretrained weights,
    "Done" once downloaded, "Failed" when they could not be had, else None."""
    p = job.progress
    if (job.result or {}).get("weights_failed"):
        return "Failed"
    if p.get("phase") == "downloading" and job.state in ACTIVE:
        return {"download": round(p.get("done", 0) / 1e6, 2), "total": round(p.get("total", 0) / 1e6, 2),
                "speed": f"{p.get('speed', 0) / 1e3:.0f}KB/s"}
    return "Done" if p.get("weights") == "downloaded" else None


def eval_metric(task: Task, job: Job) -> dict[str, Any] | None:
    """The best model's evaluation: `{"epoch", <metric>: value, ...}` (None before the first evaluation)."""
    best = (job.result or {}).get("best") or job.last_metric.get("best") or {}
    epoch = best.get("epoch")
    if epoch is None or str(epoch) not in task.evals:
        return None
    return {"epoch": epoch, **task.evals[str(epoch)]}


def eval_all(task: Task) -> dict[str, Any]:
    """Every evaluation during training: `{key, epoch_result_dict, best_epoch, best_result}` (the original's)."""
    epochs = sorted(task.evals, key=int)
    key = next(iter(task.evals[epochs[0]]), "")
    results = {int(e): task.evals[e].get(key) for e in epochs}
    best_epoch = max(results, key=lambda e: (results[e] if results[e] is not None else float("-inf"), -e))
    return {"key": key, "epoch_result_dict": results, "best_epoch": best_epoch, "best_result": results[best_epoch]}
