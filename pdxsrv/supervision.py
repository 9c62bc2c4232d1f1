"""pdxsrv's side of the job supervisor: find or start it, mirror its jobs into the workspace log.

* Each workspace has one supervisor, a detached process (it outlives pdxsrv), with its state in
  `<workspace>/.pdxsrv/supervisor/` and its sockets under a short per-workspace runtime directory
  (ipc socket paths are limited to about 100 bytes).
* On start pdxsrv reconciles: every job the supervisor lists is recorded with its state; every
  job the log says is active but the supervisor does not know becomes `lost`; every job's journal
  is replayed from the last record the log holds, so nothing reported while pdxsrv was down is
  missing, and nothing is recorded twice (records are deduplicated by journal seq).
* A task's job, once spawned, becomes the task's latest: `<task dir>/err.log` and `out.log` are
  pointed at its logs (`files.link_task_logs`), where the original's clients read them.
* Then it follows the supervisor's PUB stream. Metrics, logs, `done` and state changes are
  appended at once, in order; step progress is coalesced (the latest wins) to at most one event
  per job every PROGRESS_INTERVAL seconds. A gap in a job's journal seqs is filled with
  `replay_from`. What a job reports is made storable first (`storable`: non-finite floats as null,
  over-long text cut, each change noted under `sanitized`; see `pdxsrv.limits`).
* pdxsrv watches the supervisor's process (a pidfd, readable the moment it exits; polling where
  there is none): when it dies pdxsrv starts a new one at once (which re-adopts the live jobs) and
  reconciles again, once the new one's heartbeat has arrived on the stream (a SUB socket misses what
  is published while it reconnects: a job ending right at its re-adoption would be missed). After
  three missed heartbeats pdxsrv asks it; a supervisor that is alive (it holds its state directory's
  lock, `supervisor.statelock`) but has answered nothing for HUNG_AFTER seconds is hung: pdxsrv kills
  it (only that workspace's supervisor, checked by its command line) and starts a new one, which
  re-adopts the jobs (reconciled the same way). Meanwhile requests that need it answer
  `supervisor_unavailable`.
* The socket directory is created by pdxsrv with mode 0700 and checked before use
  (`supervisor.sockdir`); the supervisor removes it when it exits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import msgpack
import zmq
import zmq.asyncio

from pdxsrv import files, limits
from pdxsrv.domain import jobs
from pdxsrv.domain.errors import DomainError
from pdxsrv.store import Store
from supervisor import protocol, statelock
from supervisor.client import AsyncClient, SupervisorError, SupervisorUnavailable
from supervisor.sockdir import private_endpoint

log = logging.getLogger("pdxsrv.supervision")

PROGRESS_INTERVAL = 0.05
HEARTBEAT_MISSES = 3
START_TIMEOUT = 15.0
PID_POLL = 0.1  # seconds between looks at the supervisor's pid where there is no pidfd
HUNG_AFTER = 30.0  # seconds of silence (no heartbeat, no answer) before a live supervisor is taken for hung


def endpoint_for(root: str) -> str:
    """The supervisor endpoint of a workspace (an ipc path derived from its real path)."""
    digest = hashlib.sha1(os.path.realpath(root).encode()).hexdigest()[:16]
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return f"ipc://{base}/pdxsrv-{os.getuid()}-{digest}/sup"


def storable(record: dict[str, Any]) -> dict[str, Any]:
    """A journal record whose data the log may hold (`limits.sanitize`: NaN as null, bounded text, noted)."""
    return {**record, "data": limits.sanitize(record.get("data"))}


def state_dir_for(root: str) -> str:
    """Where the workspace's supervisor keeps its job records and log."""
    return os.path.join(root, ".pdxsrv", "supervisor")


def job_dir_for(root: str, job: str) -> str:
    """Where a job runs: its job.json, journal, out.log and err.log."""
    return os.path.join(root, ".pdxsrv", "jobs", job)


def start_supervisor(root: str, endpoint: str, idle_exit: float = protocol.DEFAULT_IDLE_EXIT) -> subprocess.Popen:
    """Start a detached supervisor for the workspace; it logs to `<state dir>/supervisor.log`.

    Raises UnsafeSocketDir (an OSError naming it) when the socket directory exists and is not private."""
    private_endpoint(endpoint)
    state_dir = state_dir_for(root)
    os.makedirs(state_dir, exist_ok=True)
    with open(os.path.join(state_dir, "supervisor.log"), "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "supervisor", "--endpoint", endpoint, "--state-dir", state_dir,
             "--idle-exit", f"{idle_exit:g}"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True,
        )


class Supervision:
    """Keeps the workspace log in step with the supervisor's jobs."""

    def __init__(self, store: Store, endpoint: str | None = None, idle_exit: float = protocol.DEFAULT_IDLE_EXIT,
                 context: zmq.asyncio.Context | None = None) -> None:
        """`context`: the ZeroMQ context of its sockets (default: the process's one)."""
        self.store = store
        self.ctx = context or zmq.asyncio.Context.instance()
        self.endpoint = endpoint or endpoint_for(store.root)
        self.idle_exit = idle_exit
        self.pid: int | None = None  # the supervisor's, once it answered
        self._child: subprocess.Popen | None = None  # when we started it (reaped when it exits)
        self._pidfd: int | None = None
        self._restart_lock = asyncio.Lock()
        self._closing = False
        self.client = AsyncClient(self.endpoint, timeout=1.0, retries=2, context=self.ctx)
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._last_progress: dict[str, float] = {}
        self._scheduled: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._flushes: set[asyncio.Task[None]] = set()  # referenced until done (asyncio keeps only weak refs)
        self._last_heartbeat = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: zmq.asyncio.Socket | None = None
        self._heard_from: int | None = None  # the pid in the last heartbeat on the stream
        self._news = asyncio.Event()  # set at each heartbeat and when the supervisor's process ends

    async def start(self) -> None:
        """Find or start the supervisor, follow its stream, and reconcile once the stream is live."""
        self._subscribe()
        await self._ensure_running()
        self._tasks += [asyncio.create_task(self._follow()), asyncio.create_task(self._watch_heartbeats())]
        await self._reconcile_when_streaming()

    async def _reconcile_when_streaming(self) -> bool:
        """Reconcile once a heartbeat of the supervisor now answering (`self.pid`) has arrived on the stream.

        A SUB socket misses what is published before it is connected (also while it reconnects to a
        new supervisor), so reconciling waits for that heartbeat: every change after it arrives on
        the stream, everything before it is in the supervisor's list and the journals. False when
        that supervisor ended first (its successor's restart reconciles).
        """
        pid, deadline = self.pid, time.monotonic() + HEARTBEAT_MISSES * protocol.HEARTBEAT_INTERVAL + 2
        while self._heard_from is None or self._heard_from != pid:
            if self.pid != pid:
                log.info("the supervisor (pid %s) ended before its stream was live: its successor reconciles", pid)
                return False
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                log.warning("no heartbeat from the supervisor (pid %s) yet; reconciling anyway", pid)
                break
        await self.reconcile()
        return True

    async def spawn(self, job: str, kind: str, params: dict[str, Any], gpus: list[int] | None = None,
                    grace: float | None = None) -> None:
        """Start `python -m pdxsrv.jobs <kind> <job dir>` with `params` in `<job dir>/job.json` on `gpus`."""
        job_dir = job_dir_for(self.store.root, job)
        os.makedirs(job_dir, exist_ok=True)
        with open(os.path.join(job_dir, "job.json"), "w", encoding="utf-8") as f:
            json.dump(params, f, ensure_ascii=False)
        await self.client.spawn(job, [sys.executable, "-m", "pdxsrv.jobs", kind, job_dir], job_dir,
                                gpus=gpus, grace=grace)
        task = self.store.state.tasks.get(jobs.job_name(job)[0])
        if task is not None:  # where the original's clients read a task's logs: its latest job's
            files.link_task_logs(files.task_dir(self.store.root, task.pid, task.id), job_dir)

    async def close(self) -> None:
        """Stop following (the supervisor and its jobs keep running)."""
        self._closing = True
        self._unwatch()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for job in list(self._pending):
            await self._flush(job)
        if self._sub is not None:
            self._sub.close(linger=0)
        self.client.close()

    def _subscribe(self) -> None:
        self._sub = self.ctx.socket(zmq.SUB)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"job.")
        self._sub.setsockopt(zmq.SUBSCRIBE, protocol.HB_TOPIC)
        self._sub.connect(protocol.pub_endpoint(self.endpoint))

    async def _ensure_running(self, known_dead: bool = False) -> None:
        """Find the supervisor, or start one (at once when `known_dead`), and watch its process."""
        private_endpoint(self.endpoint)  # never talk through a socket directory others can reach
        socket_file = self.endpoint.removeprefix("ipc://")
        if not known_dead and (not self.endpoint.startswith("ipc://") or os.path.exists(socket_file)):
            try:
                self._watch((await self.client.ping())["pid"])
                return
            except SupervisorUnavailable:
                pass
        log.info("starting a supervisor for %s at %s", self.store.root, self.endpoint)
        self._child = start_supervisor(self.store.root, self.endpoint, self.idle_exit)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._watch((await self.client.ping())["pid"])
                self._last_heartbeat = time.monotonic()
                return
            except SupervisorUnavailable:
                if time.monotonic() > deadline:
                    raise

    # -- watching the supervisor's process ------------------------------------------------------

    def _watch(self, pid: int) -> None:
        """Be told the moment process `pid` exits (a pidfd on the event loop, else polling)."""
        if pid == self.pid:
            return  # already watched
        self._unwatch()
        self.pid = pid
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd here (old kernel, not Linux), or it is already gone
            self._pidfd = None
            self._tasks.append(asyncio.create_task(self._poll_pid(pid)))
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self._supervisor_exited, pid)

    def _unwatch(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    async def _poll_pid(self, pid: int) -> None:
        while self.pid == pid and _alive(pid):
            await asyncio.sleep(PID_POLL)
        if self.pid == pid:
            self._supervisor_exited(pid)

    def _supervisor_exited(self, pid: int) -> None:
        if pid != self.pid:
            return
        self._unwatch()
        self.pid = None
        self._news.set()
        if self._child is not None and self._child.pid == pid:
            self._child.poll()  # reap our child
        if not self._closing:
            self._tasks.append(asyncio.create_task(self._restart(f"the supervisor (pid {pid}) exited")))

    async def _restart(self, why: str) -> None:
        """Start a new supervisor (it re-adopts the live jobs) and reconcile; one restart at a time."""
        async with self._restart_lock:
            if self._closing or (self.pid is not None and _alive(self.pid)):
                return
            began = time.monotonic()
            self._last_heartbeat = began
            self._heard_from = None  # only a heartbeat after this shows the stream of the new one is live
            log.warning("%s: starting a new one", why)
            try:
                await self._ensure_running(known_dead=True)
                if await self._reconcile_when_streaming():
                    log.warning("a new supervisor (pid %s) runs and the jobs are reconciled, %.2f s after %s",
                                self.pid, time.monotonic() - began, why.removeprefix("the "))
            except (SupervisorUnavailable, SupervisorError, DomainError, OSError) as exc:
                log.error("could not restart the supervisor: %s", exc)
            self._last_heartbeat = time.monotonic()

    async def reconcile(self) -> None:
        """Record every job the supervisor knows, catch up their journals, and mark forgotten jobs lost."""
        infos = {info["job"]: info for info in await self.client.list()}
        for info in infos.values():
            await self._record_state(info)
        for job in list(self.store.state.jobs.values()):
            if job.id in infos:
                await self._catch_up(job.id)
            elif job.state in jobs.ACTIVE:
                try:
                    await self._record_state(await self.client.status(job.id))  # spawned since the list was taken
                except SupervisorError as exc:
                    if exc.code != protocol.NO_SUCH_JOB:
                        raise
                    await self.store.execute(
                        jobs.job_missing, job.id, "the supervisor does not know this job: it ended while nothing "
                        "watched it, or its start was never recorded by the supervisor (supervisor state lost)")

    async def _catch_up(self, job_id: str, pending: list[dict[str, Any]] | None = None) -> None:
        seq = self.store.state.jobs[job_id].journal_seq
        replay = await self.client.replay_from(job_id, seq + 1)
        records = [storable(r) for r in replay["records"]] + (pending or [])
        await self.store.execute(jobs.job_reports, job_id, records)

    async def _record_state(self, info: dict[str, Any]) -> None:
        await self._flush(info["job"])  # what the job reported comes before its new state
        if info.get("state") in jobs.TERMINAL:
            await self.store.execute(jobs.job_known, info)  # on record (when first seen ended, as after a kill)
            await self._catch_up(info["job"])  # then everything it reported, before it is recorded as ended
        await self.store.execute(jobs.job_seen, info)

    async def _follow(self) -> None:
        assert self._sub is not None
        while True:
            topic, body = await self._sub.recv_multipart()
            message = msgpack.unpackb(body, raw=False)
            try:
                if topic == protocol.HB_TOPIC:
                    self._last_heartbeat = time.monotonic()
                    self._heard_from = message.get("pid")
                    self._news.set()
                elif message.get("kind") == "state":
                    await self._record_state(message["info"])
                elif message.get("kind") == "journal":
                    self._queue(message["job"], message["record"])
            except (DomainError, SupervisorError, SupervisorUnavailable) as exc:
                log.warning("could not record %s from the supervisor: %s", topic.decode(errors="replace"), exc)

    def _queue(self, job: str, record: dict[str, Any]) -> None:
        self._pending.setdefault(job, []).append(storable(record))
        due = self._last_progress.get(job, 0.0) + PROGRESS_INTERVAL
        if record.get("type") != "progress" or time.monotonic() >= due:
            self._flush_soon(job)
        elif job not in self._scheduled:
            self._scheduled.add(job)
            asyncio.get_running_loop().call_later(max(0.0, due - time.monotonic()), self._flush_soon, job)

    def _flush_soon(self, job: str) -> None:
        task = asyncio.create_task(self._flush(job))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, job: str) -> None:
        self._scheduled.discard(job)
        async with self._locks.setdefault(job, asyncio.Lock()):  # one job's records go in order
            records = self._pending.pop(job, [])
            if not records:
                return
            try:
                info = None if job in self.store.state.jobs else await self.client.status(job)
                if info is not None:
                    await self.store.execute(jobs.job_known, info)
                try:
                    await self.store.execute(jobs.job_reports, job, records)
                except jobs.JournalGap:
                    await self._catch_up(job, records)
                if info is not None:
                    await self.store.execute(jobs.job_seen, info)  # its state after what it reported
            except (DomainError, SupervisorError, SupervisorUnavailable) as exc:
                log.warning("could not record the reports of job %s (a later replay will): %s", job, exc)
            if any(r.get("type") == "progress" for r in records):
                self._last_progress[job] = time.monotonic()

    async def _watch_heartbeats(self) -> None:
        silence_noted = False
        while True:
            await asyncio.sleep(protocol.HEARTBEAT_INTERVAL)
            silent = time.monotonic() - self._last_heartbeat
            if silent < HEARTBEAT_MISSES * protocol.HEARTBEAT_INTERVAL + 0.5:
                silence_noted = False
                continue
            if self._restart_lock.locked():
                continue
            if not silence_noted:
                log.warning("no heartbeat from the supervisor for %.1f s", silent)
                silence_noted = True
            async with self._restart_lock:
                await self._revive(silent)

    async def _revive(self, silent: float) -> None:
        """Find the silent supervisor again or replace it; one that holds the workspace but has answered nothing
        for HUNG_AFTER seconds is hung: it is killed (its jobs live on and the next one re-adopts them)."""
        self._unwatch()
        self.pid = None
        self._heard_from = None  # only a heartbeat after this shows the stream is live (again)
        try:
            try:
                self._watch((await self.client.ping())["pid"])  # it answers: only its heartbeats were lost
            except SupervisorUnavailable:
                hung = statelock.holder(state_dir_for(self.store.root))
                if hung is not None and _alive(hung):
                    if silent < HUNG_AFTER:
                        return  # slow perhaps (a loaded machine): ask again in a second
                    await self._kill_hung(hung, silent)
                await self._ensure_running(known_dead=True)
            if await self._reconcile_when_streaming():
                log.warning("the supervisor (pid %s) answers again and the jobs are reconciled", self.pid)
        except (SupervisorUnavailable, SupervisorError, DomainError, OSError) as exc:
            log.error("could not restart the supervisor: %s", exc)
        self._last_heartbeat = time.monotonic()

    async def _kill_hung(self, pid: int, silent: float) -> None:
        """SIGKILL the workspace's hung supervisor `pid` (only a supervisor of this state directory) and reap it."""
        state_dir = state_dir_for(self.store.root)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            return  # gone meanwhile
        given = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--state-dir"]
        if "supervisor" not in argv or not any(os.path.realpath(d) == os.path.realpath(state_dir) for d in given):
            raise SupervisorUnavailable(f"process {pid} holds {state_dir} but is not its supervisor: not killed")
        log.error("the supervisor (pid %d) holds the workspace but has answered nothing for %.0f s: killing it "
                  "(its jobs keep running and the next supervisor re-adopts them)", pid, silent)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            if self._child is not None and self._child.pid == pid:
                self._child.poll()
            await asyncio.sleep(0.02)
        if self._child is not None and self._child.pid == pid:
            self._child.poll()


def _alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
