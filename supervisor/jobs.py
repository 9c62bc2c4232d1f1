"""The job table: spawn, stop, watch, re-adopt, schedule GPUs, and the one change_state()."""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from typing import Any, Callable

from eventlog.errors import EventLogError
from supervisor import states
from supervisor.gpus import startable
from supervisor.journal import read_from
from supervisor.processes import ExitFacts, JobProcess, read_exit_facts
from supervisor.protocol import BAD_REQUEST, INTERNAL, JOB_ID, NO_SUCH_JOB, ProtocolError, job_topic
from supervisor.records import JobRecord, RecordStore, err_tail

log = logging.getLogger("supervisor")

Publish = Callable[[bytes, dict[str, Any]], None]


class JobTable:
    """Every job this supervisor knows, with the processes of the live ones."""

    def __init__(self, state_dir: str, notify_endpoint: str, publish: Publish, default_grace: float) -> None:
        self.store = RecordStore(state_dir)
        self.notify_endpoint = notify_endpoint
        self.publish = publish
        self.default_grace = default_grace
        self.records: dict[str, JobRecord] = {}
        self.procs: dict[str, JobProcess] = {}
        self.next_order = 1
        self.starting_allowed = True  # False while the supervisor drains: queued jobs stay queued (then killed)

    # -- the lifecycle ---------------------------------------------------------------------------

    def change_state(self, job: str, new: str, **facts: Any) -> JobRecord:
        """Validate the transition, apply `facts`, persist the record atomically, publish the state."""
        record = self.records[job]
        states.check_transition(job, record.state, new)
        for name, value in facts.items():
            if not hasattr(record, name):
                raise AttributeError(f"JobRecord has no field {name!r}")
            setattr(record, name, value)
        record.state = new
        if new in states.TERMINAL:
            record.ended = record.ended or time.time()
            record.err_tail = err_tail(record.cwd)
            self.catch_up(record)
        self._save_and_publish(record)
        return record

    def _save_and_publish(self, record: JobRecord) -> None:
        self.store.save(record)
        self.publish_state(record)

    def publish_state(self, record: JobRecord) -> None:
        """Publish a `state` message for `record`."""
        self.publish(job_topic(record.job), {"kind": "state", "job": record.job, "info": record.info()})

    # -- journal records -------------------------------------------------------------------------

    def on_pushed(self, job: str, record: dict[str, Any]) -> None:
        """A job pushed a journal record: publish it, first filling any gap from the journal."""
        target = self.records.get(job)
        seq = record.get("seq") if isinstance(record, dict) else None
        if target is None or not isinstance(seq, int) or seq <= target.last_seq:
            return
        if seq > target.last_seq + 1:
            self.catch_up(target, until=seq - 1)
        if seq == target.last_seq + 1:
            self._publish_record(target, record)

    def catch_up(self, record: JobRecord, until: int | None = None) -> None:
        """Publish journal records after `record.last_seq` (up to `until`) read from the journal file."""
        try:
            for entry in read_from(record.cwd, record.last_seq + 1, until):
                self._publish_record(record, entry)
        except (EventLogError, OSError) as exc:
            log.warning("job %s: cannot read its journal: %s", record.job, exc)

    def _publish_record(self, record: JobRecord, entry: dict[str, Any]) -> None:
        record.last_seq = entry["seq"]
        self.publish(job_topic(record.job), {"kind": "journal", "job": record.job, "record": entry})

    def replay(self, job: str, seq: int) -> dict[str, Any]:
        """Journal records of `job` with seq >= `seq`, and its info."""
        record = self.get(job)
        try:
            entries = list(read_from(record.cwd, seq))
        except (EventLogError, OSError) as exc:
            raise ProtocolError(INTERNAL, f"cannot read the journal of job {job}: {exc}") from exc
        return {"records": entries, "info": record.info()}

    # -- requests --------------------------------------------------------------------------------

    def get(self, job: Any) -> JobRecord:
        """The record of `job`, or a no_such_job error."""
        record = self.records.get(job) if isinstance(job, str) else None
        if record is None:
            raise ProtocolError(NO_SUCH_JOB, f"no job {job!r}")
        return record

    def spawn(self, args: dict[str, Any]) -> dict[str, Any]:
        """Create (and start or queue) a job; an existing job id returns its info and starts nothing."""
        job = args["job"]
        if not isinstance(job, str) or not JOB_ID.match(job):
            raise ProtocolError(BAD_REQUEST, f"job id {job!r} must match {JOB_ID.pattern}")
        if job in self.records:
            return self.records[job].info()
        record = JobRecord(
            job=job, argv=_argv(args["argv"]), cwd=_cwd(args["cwd"]), env=_env(args.get("env")),
            gpus=_gpus(args.get("gpus")), grace=_grace(args.get("grace"), self.default_grace),
            order=self.next_order,
        )
        self.next_order += 1
        self.records[job] = record
        self._save_and_publish(record)
        self.schedule()
        return record.info()

    def stop(self, job: str, grace: Any = None) -> dict[str, Any]:
        """Stop a job: SIGTERM to its group, SIGKILL after the grace period; a queued job is just killed."""
        record = self.get(job)
        if record.state == states.QUEUED:
            self.change_state(job, states.KILLED, stop_requested=True, message="stopped while queued")
            self.schedule()
        elif record.state == states.RUNNING:
            wait = _grace(grace, record.grace)
            self.change_state(job, states.STOPPING, stop_requested=True, stop_deadline=time.time() + wait)
            self.procs[job].signal_group(signal.SIGTERM)
        return record.info()

    # -- processes -------------------------------------------------------------------------------

    def schedule(self) -> None:
        """Start every queued job whose GPUs are free, in FIFO order (none while draining)."""
        if not self.starting_allowed:
            return
        queued = [r for r in self.records.values() if r.state == states.QUEUED]
        active = [r for r in self.records.values() if r.state in states.ACTIVE]
        for record in startable(queued, active):
            self._start(record)

    def _start(self, record: JobRecord) -> None:
        self.change_state(record.job, states.STARTING)
        env = dict(os.environ)
        env.update(record.env)
        env.update({
            "SUPERVISOR_JOB": record.job,
            "SUPERVISOR_JOB_DIR": record.cwd,
            "SUPERVISOR_NOTIFY": self.notify_endpoint,
            "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in record.gpus),
        })
        try:
            proc = JobProcess.start(record, env)
        except OSError as exc:
            self.change_state(record.job, states.FAILED, message=f"cannot start the job's runner: {exc}")
            return
        self.procs[record.job] = proc
        self.change_state(
            record.job, states.RUNNING, pid=proc.pid, pgid=proc.pgid, create_time=proc.create_time, started=time.time()
        )

    def tick(self) -> None:
        """Notice ended runners, escalate overdue stops to SIGKILL, start queued jobs."""
        now = time.time()
        for job, proc in list(self.procs.items()):
            record = self.records[job]
            if proc.alive():
                if record.state == states.STOPPING and not proc.kill_sent and now >= (record.stop_deadline or 0):
                    proc.signal_group(signal.SIGKILL)
                    proc.kill_sent = True
                continue
            del self.procs[job]
            facts = proc.exit_facts(record.cwd)
            proc.kill_leftovers()
            self._finish(record, facts, "")
        self.schedule()

    def _finish(self, record: JobRecord, facts: ExitFacts, note: str) -> None:
        if not facts.recorded and facts.exit_code is None and facts.signal is None:
            self.change_state(record.job, states.LOST, message=f"its runner died without recording an exit status{note}")
            return
        new = states.exit_state(facts.exit_code, facts.signal, record.stop_requested)
        if facts.signal is not None:
            how = f"killed by signal {facts.signal}" + ("" if record.stop_requested else " that nobody asked for")
        else:
            how = f"exited with code {facts.exit_code}"
        if not facts.recorded:
            how = f"its runner {how}"
        self.change_state(
            record.job, new, exit_code=facts.exit_code, signal=facts.signal, ended=facts.ended, message=how + note
        )

    # -- start-up --------------------------------------------------------------------------------

    def recover(self) -> None:
        """Load every record: re-adopt live jobs, settle dead ones, re-queue queued ones."""
        for record in self.store.load_all():
            self.records[record.job] = record
            self.next_order = max(self.next_order, record.order + 1)
            if record.state in states.TERMINAL or record.state == states.QUEUED:
                continue
            proc = JobProcess.adopt(record)
            if proc is not None:
                self.procs[record.job] = proc
                self.catch_up(record)
                self.publish_state(record)
                log.info("job %s: re-adopted pid %s", record.job, record.pid)
            elif record.pid is None:
                self.change_state(record.job, states.LOST, message="the supervisor stopped while starting it; no process was recorded")
            else:
                self._finish(record, read_exit_facts(record.cwd, record.pid), "; found dead when the supervisor started")
        self.schedule()


def _argv(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(a, str) for a in value):
        raise ProtocolError(BAD_REQUEST, "argv must be a non-empty list of strings")
    return value


def _cwd(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ProtocolError(BAD_REQUEST, "cwd must be a non-empty path")
    return os.path.abspath(value)


def _env(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ProtocolError(BAD_REQUEST, "env must map strings to strings")
    return value


def _gpus(value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 0 for g in value):
        raise ProtocolError(BAD_REQUEST, "gpus must be a list of GPU indexes (non-negative integers)")
    return sorted(set(value))


def _grace(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ProtocolError(BAD_REQUEST, "grace must be a non-negative number of seconds")
    return float(value)
