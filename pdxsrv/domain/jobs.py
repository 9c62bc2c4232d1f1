"""Commands for supervised jobs: what the supervisor and the jobs report becomes events (pure).

Job IDs name what they work on: `<task or dataset id>.<kind>.<n>`, e.g. `T0001.train.2`; a demo's
preparation is `demo-<project type>.demo.<n>`.
"""

from __future__ import annotations

import re
import signal
from typing import Any, Mapping, Sequence

from pdxsrv.domain import events as ev
from pdxsrv.domain import model_records
from pdxsrv.domain.errors import DomainError, NotFound
from pdxsrv.domain.state import Job, Workspace

ACTIVE = frozenset({"queued", "starting", "running", "stopping"})
TERMINAL = frozenset({"exited", "failed", "killed", "lost"})
REPORT_KINDS = frozenset({"progress", "metric", "log", "done"})
_JOB_ID = re.compile(r"^((?:D|T)\d{4,}|demo-[a-z_]+)\.([A-Za-z_]+)\.\d+$")


class JournalGap(DomainError):
    """Journal records are missing between what the log holds and what arrived: replay them first."""

    code = "journal_gap"

    def __init__(self, job: str, expected: int, got: int) -> None:
        super().__init__(f"job {job}: journal record {expected} is missing (got {got})")
        self.job, self.expected, self.got = job, expected, got


def job_name(job_id: str) -> tuple[str, str]:
    """(subject, kind) of a job ID; ('', 'external') for an ID that does not follow the convention."""
    match = _JOB_ID.match(job_id)
    return (match.group(1), match.group(2)) if match else ("", "external")


def job_outcome(job: Job) -> str:
    """A person's account of how a job stands, for the `message` of its task."""
    if job.state in ACTIVE:
        return f"job {job.id} is {job.state}"
    if job.signal:
        how = f"was killed by signal {job.signal} ({_signal_name(job.signal)})"
    elif job.exit_code not in (None, 0):
        how = f"exited with code {job.exit_code}"
    else:
        how = {"exited": "finished", "killed": "was stopped", "lost": "was lost"}.get(job.state, job.state)
    text = f"job {job.id} {how}" + (f": {job.message}" if job.message else "")
    if job.state in ("failed", "lost") and job.err_tail:
        text += "\nlast lines of err.log:\n" + "\n".join(job.err_tail[-10:])
    return text


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def job_known(state: Workspace, info: Mapping[str, Any]) -> list[Any]:
    """The supervisor reported a job: record it if it is new, or on record only from its start event and now with
    its GPUs (its state comes with `job_seen`)."""
    known = state.jobs.get(info["job"])
    if known is not None and not (info.get("gpus") and known.gpus != list(info["gpus"])):
        return []
    subject, kind = job_name(info["job"])
    return [ev.JobSpawned(info["job"], kind, subject, list(info.get("gpus") or []))]


def job_seen(state: Workspace, info: Mapping[str, Any]) -> list[Any]:
    """The supervisor reported a job: record it if it is new, and its state if that changed."""
    job_id = info["job"]
    job = state.jobs.get(job_id)
    events: list[Any] = job_known(state, info)
    if job is not None and job.state in TERMINAL:
        return events  # a finished job's outcome is final
    subject = job.subject if job else job_name(job_id)[0]
    new = ev.JobStateChanged(
        job_id, subject, str(info["state"]), int(info.get("pid") or 0), info.get("exit_code"), info.get("signal"),
        str(info.get("message") or ""), [str(line) for line in info.get("err_tail") or []],
    )
    if job is None or (job.state, job.pid, job.exit_code, job.signal, job.message) != (
        new.state, new.pid, new.exit_code, new.signal, new.message
    ):
        events.append(new)
    return events


def job_missing(state: Workspace, job_id: str, message: str) -> list[Any]:
    """An active job the supervisor does not know (it died while nobody watched): it is lost."""
    job = state.jobs.get(job_id)
    if job is None or job.state not in ACTIVE:
        return []
    return [ev.JobStateChanged(job_id, job.subject, "lost", job.pid, None, None, message, [])]


def job_reports(state: Workspace, job_id: str, records: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Journal records as events, in order: duplicates dropped, consecutive progress coalesced to the latest.

    A successful export's `done` also registers its exported-model record (see `model_records`).
    """
    job = state.jobs.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} is not known to this workspace")
    seq, events, pending = job.journal_seq, [], None
    for record in sorted(records, key=lambda r: r["seq"]):
        if record["seq"] <= seq:
            continue
        if record["seq"] != seq + 1:
            raise JournalGap(job_id, seq + 1, record["seq"])
        seq = record["seq"]
        kind = record["type"] if record["type"] in REPORT_KINDS else "log"
        data = record["data"] if isinstance(record["data"], dict) else {"value": record["data"]}
        if kind == "progress":
            pending = (seq, data)
            continue
        if pending:
            events.append(ev.JobReported(job_id, job.subject, pending[0], "progress", pending[1]))
            pending = None
        events.append(ev.JobReported(job_id, job.subject, seq, kind, data))
        if kind == "done":
            events.extend(model_records.on_export_done(state, job, data))
    if pending:
        events.append(ev.JobReported(job_id, job.subject, pending[0], "progress", pending[1]))
    return events
