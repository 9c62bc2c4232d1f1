"""How a task's jobs move it: the training outcome from its done report or its end, in either order."""

from __future__ import annotations

import itertools

import pytest

from eventlog import Record
from pdxsrv.domain import commands as c
from pdxsrv.domain import events as ev
from pdxsrv.domain.apply import fold
from pdxsrv.domain.enums import TaskStatus
from pdxsrv.domain.errors import Conflict
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.queries import current_job
from pdxsrv.domain.state import EMPTY, Workspace


def apply(state: Workspace, *events) -> Workspace:
    logged = [to_log_event(e) for e in events]
    return fold([Record(state.seq + i + 1, 100.0 + i, e.type, e.v, e.data) for i, e in enumerate(logged)], state)


def do(state: Workspace, command, *args) -> Workspace:
    return apply(state, *command(state, *args))


@pytest.fixture
def task() -> Workspace:
    s = do(EMPTY, c.create_dataset, "d", "", "classification")
    s = do(s, c.create_project, "p", "", "classification")
    s = do(s, c.set_attributes, "project", "P0001", {"did": "D0001"})
    return do(s, c.create_task, "P0001", {"model": "MobileNetV2", "num_epochs": 3})


def running(s: Workspace, job: str = "T0001.train.1") -> Workspace:
    s = do(s, c.start_task_job, "T0001", "train", job)
    return apply(s, ev.JobSpawned(job, "train", "T0001"), ev.JobStateChanged(job, "T0001", "running", pid=7))


ENDINGS = [
    ({"ok": True, "stopped": False, "epoch": 3}, "exited", 0, None, TaskStatus.XTRAINDONE, ""),
    ({"ok": True, "stopped": True, "epoch": 1, "step": 4}, "exited", 0, None, TaskStatus.XTRAINEXIT, "resume with epoch 1"),
    ({"ok": False, "message": "learning_rate must be in (0, 10)"}, "failed", 1, None, TaskStatus.XTRAINFAIL,
     "learning_rate must be in (0, 10)"),
    (None, "failed", None, 9, TaskStatus.XTRAINFAIL, "signal 9 (SIGKILL)"),
    (None, "killed", None, 15, TaskStatus.XTRAINEXIT, "was killed by signal 15"),
    (None, "exited", 0, None, TaskStatus.XTRAINDONE, ""),
]


@pytest.mark.parametrize("result,end,code,sig,status,message", ENDINGS)
def test_the_outcome_is_the_same_whichever_of_done_and_the_end_arrives_first(
    task: Workspace, result, end, code, sig, status, message
) -> None:
    s = running(task)
    assert s.tasks["T0001"].status == TaskStatus.XTRAINING
    done = [ev.JobReported("T0001.train.1", "T0001", 1, "done", result)] if result is not None else []
    ended = [ev.JobStateChanged("T0001.train.1", "T0001", end, 7, code, sig)]
    for order in itertools.permutations(done + ended):
        final = apply(s, *order).tasks["T0001"]
        assert final.status == status and message in final.message


def test_metrics_fold_per_epoch_and_a_resume_keeps_those_up_to_its_epoch(task: Workspace) -> None:
    s = running(task)
    for epoch in (1, 2, 3):
        s = apply(s, ev.JobReported("T0001.train.1", "T0001", epoch, "metric", {"epoch": epoch, "metrics": {"acc1": epoch / 4}}))
    assert s.tasks["T0001"].evals == {"1": {"acc1": 0.25}, "2": {"acc1": 0.5}, "3": {"acc1": 0.75}}
    s = apply(s, ev.JobStateChanged("T0001.train.1", "T0001", "exited", 7, 0))
    s = do(s, c.start_task_job, "T0001", "train", "T0001.train.2", 2)
    assert s.tasks["T0001"].evals == {"1": {"acc1": 0.25}, "2": {"acc1": 0.5}}
    assert s.tasks["T0001"].jobs == {"train": "T0001.train.2"}


def test_an_older_job_no_longer_moves_the_task_and_a_second_start_is_refused(task: Workspace) -> None:
    s = running(task)
    with pytest.raises(Conflict, match="already has a train job running"):
        c.start_task_job(s, "T0001", "train", "T0001.train.2")
    with pytest.raises(Conflict, match="stop it first"):
        c.delete_task(s, "T0001")
    s = apply(s, ev.JobStateChanged("T0001.train.1", "T0001", "killed", 7, None, 15))
    s = running(s, "T0001.train.2")
    s = apply(s, ev.JobReported("T0001.train.1", "T0001", 9, "done", {"ok": False, "message": "late"}))
    assert s.tasks["T0001"].status == TaskStatus.XTRAINING


def test_an_evaluation_marks_a_trained_task_evaluated_and_a_job_that_ended_first_is_not_overwritten(
    task: Workspace,
) -> None:
    s = running(task)
    s = apply(s, ev.JobStateChanged("T0001.train.1", "T0001", "exited", 7, 0))
    s = do(s, c.start_task_job, "T0001", "evaluate", "T0001.evaluate.1")
    s = apply(s, ev.JobSpawned("T0001.evaluate.1", "evaluate", "T0001"),
              ev.JobReported("T0001.evaluate.1", "T0001", 1, "done", {"ok": True}),
              ev.JobStateChanged("T0001.evaluate.1", "T0001", "exited", 8, 0))
    assert s.tasks["T0001"].status == TaskStatus.XEVALUATED
    # The supervisor's account of a fast-failing job arrives before task.job_started is appended.
    s = apply(s, ev.JobSpawned("T0001.train.2", "train", "T0001"),
              ev.JobStateChanged("T0001.train.2", "T0001", "failed", 9, 1))
    s = do(s, c.start_task_job, "T0001", "train", "T0001.train.2")
    assert s.tasks["T0001"].status == TaskStatus.XTRAINFAIL


def test_a_pruning_analysis_marks_the_task_and_then_gives_it_back_as_training_left_it(task: Workspace) -> None:
    s = running(task)
    s = apply(s, ev.JobReported("T0001.train.1", "T0001", 1, "done", {"ok": True, "stopped": False, "epoch": 3}),
              ev.JobStateChanged("T0001.train.1", "T0001", "exited", 7, 0))
    s = do(s, c.start_task_job, "T0001", "prune", "T0001.prune.1")
    assert s.tasks["T0001"].status == TaskStatus.XPRUNEING
    with pytest.raises(Conflict, match="XPRUNEING"):
        c.start_task_job(s, "T0001", "train", "T0001.train.2")
    s = apply(s, ev.JobSpawned("T0001.prune.1", "prune", "T0001"),
              ev.JobStateChanged("T0001.prune.1", "T0001", "running", pid=8))
    assert s.tasks["T0001"].status == TaskStatus.XPRUNEING
    s = apply(s, ev.JobStateChanged("T0001.prune.1", "T0001", "killed", 8, None, 15))
    assert s.tasks["T0001"].status == TaskStatus.XTRAINDONE


def test_a_pruning_task_trains_as_xprunetrain(task: Workspace) -> None:
    s = do(task, c.create_task, "P0001", {}, "", "T0001")
    assert s.tasks["T0002"].params == s.tasks["T0001"].params
    s = do(s, c.start_task_job, "T0002", "train", "T0002.train.1")
    assert s.tasks["T0002"].status == TaskStatus.XPRUNETRAIN
    s = apply(s, ev.JobSpawned("T0002.train.1", "train", "T0002"),
              ev.JobStateChanged("T0002.train.1", "T0002", "running", pid=9))
    assert s.tasks["T0002"].status == TaskStatus.XPRUNETRAIN
    s = apply(s, ev.JobStateChanged("T0002.train.1", "T0002", "exited", 9, 0))
    assert s.tasks["T0002"].status == TaskStatus.XTRAINDONE


def test_a_job_started_but_not_yet_spawned_is_the_tasks_queued_job(task: Workspace) -> None:
    # POST /project/task/train is answered once the start is durable; the supervisor's account of the spawn
    # comes later through the stream. In between, the task's training job is queued, not missing
    # (a GET of its metrics in that gap answered "has not trained yet" under load).
    s = do(task, c.start_task_job, "T0001", "train", "T0001.train.1")
    job = current_job(s, s.tasks["T0001"], "train")
    assert job is not None and (job.id, job.kind, job.state, job.progress) == ("T0001.train.1", "train", "queued", {})
    s = apply(s, ev.JobSpawned("T0001.train.1", "train", "T0001"))
    assert current_job(s, s.tasks["T0001"], "train") is s.jobs["T0001.train.1"]
    assert current_job(s, s.tasks["T0001"], "evaluate") is None
