"""An asyncio subscriber to the supervisor's PUB stream: gap-free, duplicate-free journal records per job.

Records of each job are delivered in seq order, each once: a record older than the last delivered
one is dropped; a gap (a record beyond the next expected seq, or a state message whose
`last_seq` is ahead) is filled with `replay_from` before anything newer is delivered. A consumer
that restarts passes each job's last delivered seq as `last_seqs` and is caught up at `start()`.
`on_down` is called when `missed` heartbeats in a row did not arrive, `on_up` when they resume.
A SUB socket misses what is published while it reconnects, so when heartbeats resume, or come from
a new supervisor (another pid), the jobs are read again with `list`: each job under `prefix` whose
state changed since it was last delivered gets `on_state`, after its missing records.
Callbacks may be plain functions or coroutine functions.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Callable

import zmq
import zmq.asyncio

from supervisor import protocol
from supervisor.client import AsyncClient, SupervisorError, SupervisorUnavailable

log = logging.getLogger("supervisor.subscriber")

RecordCallback = Callable[[str, dict[str, Any]], Any]
StateCallback = Callable[[str, dict[str, Any]], Any]
Callback = Callable[[], Any]


async def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is not None:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result


class Subscriber:
    """Delivers job records (in order, once), state changes, and supervisor-down notices."""

    def __init__(self, endpoint: str, on_record: RecordCallback, *, on_state: StateCallback | None = None,
                 on_down: Callback | None = None, on_up: Callback | None = None, prefix: str = "",
                 last_seqs: dict[str, int] | None = None, client: AsyncClient | None = None,
                 missed: int = 3, hb_interval: float = protocol.HEARTBEAT_INTERVAL,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = endpoint
        self.on_record, self.on_state, self.on_down, self.on_up = on_record, on_state, on_down, on_up
        self.prefix = prefix
        self.seen: dict[str, int] = dict(last_seqs or {})  # job -> last delivered seq
        self.states: dict[str, str] = {}  # job -> last delivered state
        self.client = client or AsyncClient(endpoint, timeout=2.0, retries=2)
        self.missed = missed
        self.hb_interval = hb_interval
        self.down = False
        self.pid: int | None = None  # the supervisor's, from its last heartbeat
        self.resync = False  # the jobs are to be read again (a reconnection, or a failed re-read)
        self.ctx = context or zmq.asyncio.Context.instance()
        self.last_hb = time.monotonic()
        self.sock: zmq.asyncio.Socket | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Subscribe, catch up every job in `last_seqs`, then run in the background."""
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 100_000)
        self.sock.setsockopt(zmq.SUBSCRIBE, protocol.job_topic(self.prefix))
        self.sock.setsockopt(zmq.SUBSCRIBE, protocol.HB_TOPIC)
        self.sock.connect(protocol.pub_endpoint(self.endpoint))
        self.last_hb = time.monotonic()
        for job in list(self.seen):
            await self._fill(job, self.seen[job] + 1)
        self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._watch_heartbeats())]

    async def close(self) -> None:
        """Stop delivering and close the sockets."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None
        self.client.close()

    async def _receive(self) -> None:
        assert self.sock is not None
        while True:
            topic, payload = (await self.sock.recv_multipart())[:2]
            try:
                await self._handle(topic, protocol.unpack(payload))
            except Exception:  # a bad message or a failing callback must not end the subscription
                log.exception("subscriber: cannot handle a message on %r", topic)

    async def _handle(self, topic: bytes, body: Any) -> None:
        """Route one PUB message."""
        if topic == protocol.HB_TOPIC:
            await self._heartbeat(body.get("pid"))
        elif body.get("kind") == "journal":
            await self._deliver(body["job"], body["record"])
        elif body.get("kind") == "state":
            job, info = body["job"], body["info"]
            await self._deliver_state(job, info)

    async def _deliver_state(self, job: str, info: dict[str, Any]) -> None:
        """Deliver a job's state, after the records before it."""
        if info.get("last_seq", 0) > self.seen.get(job, 0):
            await self._fill(job, self.seen.get(job, 0) + 1)
        self.states[job] = info.get("state")
        await _call(self.on_state, job, info)

    async def _deliver(self, job: str, record: dict[str, Any]) -> None:
        expected = self.seen.get(job, 0) + 1
        if record["seq"] > expected:
            await self._fill(job, expected)
            expected = self.seen.get(job, 0) + 1
        if record["seq"] == expected:
            self.seen[job] = record["seq"]
            await _call(self.on_record, job, record)

    async def _fill(self, job: str, from_seq: int) -> None:
        """Deliver what `replay_from` has from `from_seq`; on failure the gap stays open for the next try."""
        try:
            reply = await self.client.replay_from(job, from_seq)
        except (SupervisorUnavailable, SupervisorError) as exc:
            log.warning("job %s: cannot replay from %d: %s", job, from_seq, exc)
            return
        for record in reply["records"]:
            if record["seq"] == self.seen.get(job, 0) + 1:
                self.seen[job] = record["seq"]
                await _call(self.on_record, job, record)

    async def _heartbeat(self, pid: Any) -> None:
        self.last_hb = time.monotonic()
        if self.down or (self.pid is not None and pid != self.pid):
            self.resync = True  # reconnected: what was published meanwhile never arrived
        self.pid = pid
        if self.resync:
            await self._read_again()
        if self.down:
            self.down = False
            await _call(self.on_up)

    async def _read_again(self) -> None:
        """Deliver every state (and the records before it) that changed since it was last delivered."""
        try:
            infos = await self.client.list()
        except (SupervisorUnavailable, SupervisorError) as exc:
            log.warning("cannot read the jobs again after a reconnection (next heartbeat retries): %s", exc)
            return
        self.resync = False
        for info in infos:
            job = info["job"]
            if job.startswith(self.prefix) and info.get("state") != self.states.get(job):
                await self._deliver_state(job, info)

    async def _watch_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.hb_interval / 4)
            if not self.down and time.monotonic() - self.last_hb > self.missed * self.hb_interval:
                self.down = True
                await _call(self.on_down)
