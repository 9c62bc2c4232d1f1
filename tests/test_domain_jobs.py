"""Job commands: reports become events in order, once, with progress coalesced and never backwards."""

from __future__ import annotations

import pytest

from eventlog import Record
from pdxsrv.domain import jobs
from pdxsrv.domain.apply import fold
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.state import EMPTY, Workspace


def do(state: Workspace, command, *args) -> Workspace:
    events = [to_log_event(e) for e in command(state, *args)]
    return fold([Record(state.seq + i + 1, 0.0, e.type, e.v, e.data) for i, e in enumerate(events)], state)


def rec(seq: int, kind: str, **data) -> dict:
    return {"seq": seq, "ts": 0.0, "type": kind, "v": 1, "data": data}


def test_a_new_job_is_recorded_with_its_subject_and_state() -> None:
    s = do(EMPTY, jobs.job_seen, {"job": "T0001.train.1", "state": "running", "pid": 42, "gpus": [0]})
    job = s.jobs["T0001.train.1"]
    assert (job.subject, job.kind, job.state, job.pid, job.gpus) == ("T0001", "train", "running", 42, [0])
    assert jobs.job_seen(s, {"job": "T0001.train.1", "state": "running", "pid": 42}) == []
    s = do(s, jobs.job_seen, {"job": "T0001.train.1", "state": "failed", "pid": 42, "signal": 9,
                              "err_tail": ["Killed"]})
    assert (s.jobs["T0001.train.1"].state, s.jobs["T0001.train.1"].signal) == ("failed", 9)
    assert jobs.job_seen(s, {"job": "T0001.train.1", "state": "running", "pid": 42}) == [], "terminal is final"
    assert jobs.job_name("whatever") == ("", "external")


def test_reports_are_deduplicated_coalesced_and_ordered() -> None:
    s = do(EMPTY, jobs.job_seen, {"job": "D0001.import.1", "state": "running"})
    batch = [rec(1, "progress", step=1), rec(2, "progress", step=2), rec(3, "metric", acc=0.5),
             rec(4, "progress", step=3), rec(5, "log", message="x"), rec(6, "progress", step=4)]
    events = jobs.job_reports(s, "D0001.import.1", batch)
    assert [(e.kind, e.seq) for e in events] == [("progress", 2), ("metric", 3), ("progress", 4), ("log", 5),
                                                 ("progress", 6)]
    s = do(s, jobs.job_reports, "D0001.import.1", batch)
    job = s.jobs["D0001.import.1"]
    assert (job.journal_seq, job.progress, job.last_metric) == (6, {"step": 4}, {"acc": 0.5})
    assert jobs.job_reports(s, "D0001.import.1", batch) == [], "a replay of what the log holds adds nothing"
    with pytest.raises(jobs.JournalGap) as info:
        jobs.job_reports(s, "D0001.import.1", [rec(8, "progress", step=9)])
    assert (info.value.expected, info.value.got) == (7, 8)


def test_an_active_job_the_supervisor_forgot_is_lost() -> None:
    s = do(EMPTY, jobs.job_seen, {"job": "T0002.train.1", "state": "running", "pid": 7})
    s = do(s, jobs.job_missing, "T0002.train.1", "the supervisor does not know it")
    assert s.jobs["T0002.train.1"].state == "lost"
    assert jobs.job_missing(s, "T0002.train.1", "again") == []


def test_an_import_jobs_reports_move_its_dataset_and_the_message_shows_progress() -> None:
    from pdxsrv.api.render import dataset_message
    from pdxsrv.domain import commands as c
    from pdxsrv.domain.enums import DatasetStatus

    s = do(EMPTY, c.create_dataset, "d", "", "classification")
    s = do(s, c.start_import, "D0001", "D0001.import.1", "/src")
    assert s.datasets["D0001"].status == DatasetStatus.XCHECKING
    s = do(s, jobs.job_seen, {"job": "D0001.import.1", "state": "running", "pid": 5})
    s = do(s, jobs.job_reports, "D0001.import.1", [rec(1, "progress", phase="checking", done=4, total=10)])
    assert dataset_message(s.datasets["D0001"]) == "checked 4 of 10 files"
    s = do(s, jobs.job_reports, "D0001.import.1", [rec(2, "progress", phase="copying", done=5, total=10)])
    assert s.datasets["D0001"].status == DatasetStatus.XCOPYING
    assert dataset_message(s.datasets["D0001"])["percent"] == 0.5
    done = rec(3, "done", ok=True, presplit=True, summary={"labels": ["a", "b"], "train_num": 7})
    s = do(s, jobs.job_reports, "D0001.import.1", [done])
    d = s.datasets["D0001"]
    assert (d.status, d.num_classes, d.train_num) == (DatasetStatus.XSPLITED, 2, 7)

    s = do(s, c.create_dataset, "e", "", "detection")
    s = do(s, c.start_import, "D0002", "D0002.import.1", "/src")
    s = do(s, jobs.job_seen, {"job": "D0002.import.1", "state": "running", "pid": 6})
    s = do(s, jobs.job_seen, {"job": "D0002.import.1", "state": "failed", "pid": 6, "signal": 9})
    assert s.datasets["D0002"].status == DatasetStatus.XCHECKFAIL and "signal 9" in s.datasets["D0002"].message
    with pytest.raises(c.Conflict):
        c.split_dataset(s, "D0002", 0.2, 0.1, 1, (1, 1, 0))
    assert c.next_job_id(s, "D0002", "import") == "D0002.import.2"


def test_a_report_recorded_after_its_job_ended_does_not_revive_the_import() -> None:
    """The soak's case: a job killed while pdxsrv was down is first seen ended, and its last progress report
    reaches the log after that: the dataset must stay failed, not go back to copying for ever."""
    from pdxsrv.domain import commands as c
    from pdxsrv.domain.enums import DatasetStatus

    s = do(EMPTY, c.create_dataset, "d", "", "classification")
    s = do(s, c.start_import, "D0001", "D0001.import.1", "/src")
    s = do(s, jobs.job_seen, {"job": "D0001.import.1", "state": "failed", "pid": 5, "signal": 9})
    assert s.datasets["D0001"].status == DatasetStatus.XCHECKFAIL
    late = [rec(i, "progress", phase="checking" if i < 3 else "copying", done=i - 1, total=8) for i in range(1, 10)]
    s = do(s, jobs.job_reports, "D0001.import.1", late)
    assert s.datasets["D0001"].status == DatasetStatus.XCHECKFAIL, "an ended job's progress moves nothing"
    assert s.jobs["D0001.import.1"].journal_seq == 9, "the report itself is on record"


def test_a_job_first_seen_ended_is_recorded_before_its_reports_and_ended_after_them() -> None:
    s = do(EMPTY, jobs.job_known, {"job": "T0001.train.1", "state": "failed", "pid": 5, "gpus": [1]})
    job = s.jobs["T0001.train.1"]
    assert (job.subject, job.kind, job.state, job.gpus) == ("T0001", "train", "queued", [1]), "on record, no state yet"
    assert jobs.job_known(s, {"job": "T0001.train.1", "state": "failed"}) == []


def test_a_started_job_the_supervisor_never_reports_is_on_record_and_reconciling_fails_its_subject() -> None:
    """A dataset or task must not stay busy for ever pointing at a job nobody knows."""
    from pdxsrv.domain import commands as c
    from pdxsrv.domain.enums import DatasetStatus, TaskStatus

    s = do(EMPTY, c.create_dataset, "d", "", "classification")
    s = do(s, c.start_import, "D0001", "D0001.import.1", "/src")
    s = do(s, c.create_project, "p", "", "classification")
    s = do(s, c.set_attributes, "project", "P0001", {"did": "D0001"})
    s = do(s, c.create_task, "P0001", {"model": "MobileNetV2"})
    s = do(s, c.start_task_job, "T0001", "train", "T0001.train.1")
    assert (s.jobs["D0001.import.1"].state, s.jobs["T0001.train.1"].state) == ("queued", "queued")
    s = do(s, jobs.job_missing, "D0001.import.1", "the supervisor does not know this job")
    s = do(s, jobs.job_missing, "T0001.train.1", "the supervisor does not know this job")
    assert s.datasets["D0001"].status == DatasetStatus.XCHECKFAIL
    assert s.tasks["T0001"].status == TaskStatus.XTRAINFAIL
    assert "does not know" in s.tasks["T0001"].message


def test_the_supervisors_account_of_a_job_on_record_adds_its_gpus_and_keeps_its_state() -> None:
    from pdxsrv.domain import commands as c

    s = do(EMPTY, c.create_dataset, "d", "", "classification")
    s = do(s, c.start_import, "D0001", "D0001.import.1", "/src")
    s = do(s, jobs.job_seen, {"job": "D0001.import.1", "state": "running", "pid": 3, "gpus": [0]})
    job = s.jobs["D0001.import.1"]
    assert (job.state, job.pid, job.gpus, job.kind, job.subject) == ("running", 3, [0], "import", "D0001")
