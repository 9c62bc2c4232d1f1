"""The event-sourced workspace: its log, its state (the fold of the log) and its snapshots.

Workspace layout::

    <workspace>/.pdxsrv/events/       the event log (eventlog format); LOCK holds the serving pid
    <workspace>/.pdxsrv/snapshots/    <seq>.snap: state after event seq (pdxsrv.domain.codec)
    <workspace>/datasets/<did>/       dataset files
    <workspace>/projects/<pid>/<tid>/ task files

A command runs as: decide on the current state (pure) -> submit its events to the log (seqs
assigned at once) -> fold them into the state -> wait until they are durable -> answer. Deciding
and folding happen with no await in between, so concurrent commands never decide on stale state,
and the log's group commit lets them share one fsync. Readers call `durable_state()`, which never
returns a state whose events are not on disk yet.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Callable

from eventlog import EventLog, LogLocked, Record, SnapshotStore, load_state
from pdxsrv.domain.apply import apply, apply_event
from pdxsrv.domain.codec import SNAPSHOT_VERSION, from_data, to_data
from pdxsrv.domain.errors import InvalidArgument
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.state import EMPTY, Workspace
from pdxsrv.feed import Feed

log = logging.getLogger("pdxsrv")

DEFAULT_SNAPSHOT_EVERY = 10_000


class WorkspaceLocked(Exception):
    """Another pdxsrv serves this workspace."""


def events_dir(root: str) -> str:
    """Directory of a workspace's event log."""
    return os.path.join(root, ".pdxsrv", "events")


def snapshots_dir(root: str) -> str:
    """Directory of a workspace's snapshots."""
    return os.path.join(root, ".pdxsrv", "snapshots")


def load(root: str, records: Callable[[int], Any], last_seq: int) -> tuple[Workspace, int]:
    """State of a workspace from its latest usable snapshot + the tail; also the snapshot's seq (0: none)."""
    state, _, snap = load_state(
        records,
        SnapshotStore(snapshots_dir(root)),
        last_seq=last_seq,
        initial=EMPTY,
        apply=apply,
        from_snapshot=from_data,
        v=SNAPSHOT_VERSION,
    )
    return state, snap.seq if snap else 0


class Store:
    """The one writer of a workspace."""

    def __init__(self, root: str, *, snapshot_every: int = DEFAULT_SNAPSHOT_EVERY) -> None:
        self.root = os.path.realpath(root)
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise NotADirectoryError(f"workspace {self.root} exists and is not a directory")
        os.makedirs(self.root, exist_ok=True)
        try:
            self.log = EventLog(events_dir(self.root))
        except LogLocked as exc:
            who = f"process {exc.pid}" if exc.pid else "another process"
            raise WorkspaceLocked(f"workspace {self.root} is already served by {who} (lock: {exc.path})") from None
        self.snapshots = SnapshotStore(snapshots_dir(self.root))
        self.snapshots.discard_after(self.log.last_seq)
        try:
            self.state, self._snapshot_seq = load(self.root, self.log.read, self.log.last_seq)
        except BaseException:
            self.log.close()
            raise
        self.snapshot_every = snapshot_every
        self._snapshotting: asyncio.Future[Any] | None = None
        self.feed = Feed()
        self.feed.durable(self.state.seq)

    async def execute(self, command: Callable[..., list[Any]], *args: Any, **kwargs: Any) -> list[Record]:
        """Run a pure command; return its records once they are durable (DomainError changes nothing)."""
        events = command(self.state, *args, **kwargs)
        try:
            records, durable = self.log.submit([to_log_event(e) for e in events], expected_seq=self.state.seq)
        except (TypeError, OverflowError, ValueError) as exc:  # msgpack cannot store a value (e.g. an int >= 2**64)
            raise InvalidArgument(f"the request holds a value that cannot be stored ({exc}); send smaller values") from None
        state = self.state
        for event, record in zip(events, records):
            state = apply_event(state, event, record.seq, record.ts)
        self.state = state
        self.feed.add(records)
        await durable
        self.feed.durable(self.log.durable_seq)
        self._maybe_snapshot(state)
        return records

    async def durable_state(self) -> Workspace:
        """The current state, once everything folded into it is durable."""
        state = self.state
        await self.log.wait_durable(state.seq)
        return state

    def _maybe_snapshot(self, state: Workspace) -> None:
        if self._snapshotting is None and state.seq - self._snapshot_seq >= self.snapshot_every:
            self._snapshot_seq = state.seq
            self._snapshotting = asyncio.get_running_loop().run_in_executor(None, self._write_snapshot, state)
            self._snapshotting.add_done_callback(self._snapshot_done)

    def _snapshot_done(self, future: asyncio.Future[Any]) -> None:
        self._snapshotting = None
        if future.exception() is not None:
            log.error("snapshot failed (the log is intact; the next start folds more events): %s", future.exception())

    def _write_snapshot(self, state: Workspace) -> None:
        path = self.snapshots.write(state.seq, to_data(state), SNAPSHOT_VERSION)
        log.info("snapshot of seq %d written to %s", state.seq, path)

    async def aclose(self) -> None:
        """Finish pending appends, write a final snapshot, release the workspace."""
        if self._snapshotting is not None:
            await self._snapshotting
        state = await self.durable_state()
        if state.seq > self._snapshot_seq:
            self._write_snapshot(state)
            self._snapshot_seq = state.seq
        await self.log.aclose()
