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

A failed append (the disk is full, or any OSError at write or fsync) is undone by the log, and the
store drops what it folded past the durable seq (`_roll_back`): the in-memory state is again
exactly the durable one, every command of that group commit answers `DiskFull` (ENOSPC, EDQUOT) or
`StorageFailed`, none is acknowledged, and the next command after space returns succeeds. A
failed snapshot is logged, its temp file removed, and tried again SNAPSHOT_RETRY seconds later.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import time
from collections import deque
from typing import Any, Callable

from eventlog import EventLog, LogFailed, LogLocked, LogWriteFailed, Record, SnapshotStore, load_state
from pdxsrv.domain.apply import apply, apply_event
from pdxsrv.domain.codec import SNAPSHOT_VERSION, from_data, to_data
from pdxsrv.domain.errors import DomainError, InvalidArgument
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.state import EMPTY, Workspace
from pdxsrv.feed import Feed

log = logging.getLogger("pdxsrv")

DEFAULT_SNAPSHOT_EVERY = 10_000
SNAPSHOT_RETRY = 60.0  # seconds before a failed snapshot is tried again
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class WorkspaceLocked(Exception):
    """Another pdxsrv serves this workspace."""


class StorageFailed(DomainError):
    """The event log could not be written (an I/O error): nothing was changed."""

    code = "storage_failed"


class DiskFull(StorageFailed):
    """The disk holding the event log is full: nothing was changed."""

    code = "disk_full"


def storage_error(exc: LogFailed, directory: str) -> StorageFailed:
    """The domain error a client gets for a failed append: what happened, what to free, where."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    if isinstance(cause, OSError) and cause.errno in NO_SPACE:
        try:
            free = f"{shutil.disk_usage(directory).free / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        return DiskFull(f"the disk holding the workspace's event log ({directory}) is full ({free}): nothing was "
                        "changed. Free space on that filesystem (delete datasets, tasks or exports you no longer "
                        "need, or files outside pdxsrv; `df` shows it), then send the request again; no restart "
                        "is needed")
    if isinstance(exc, LogWriteFailed):
        return StorageFailed(f"writing the workspace's event log ({directory}) failed: {cause}. Nothing was "
                             "changed; check the disk, then send the request again")
    return StorageFailed(f"the workspace's event log ({directory}) cannot be written ({exc}); nothing was changed. "
                         "Restart pdxsrv once the disk is fixed (it recovers the log on start)")

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
        self._snapshot_after = 0.0  # monotonic time before which no snapshot is tried (after a failure)
        self._durable = self.state  # the state whose events are all on disk
        self._unsynced: deque[Workspace] = deque()  # states folded, not durable yet, in seq order
        self.log.on_rollback = self._roll_back
        self.feed = Feed()
        self.feed.durable(self.state.seq)

    async def execute(self, command: Callable[..., list[Any]], *args: Any, **kwargs: Any) -> list[Record]:
        """Run a pure command; return its records once they are durable (DomainError changes nothing)."""
        events = command(self.state, *args, **kwargs)
        try:
            records, durable = self.log.submit([to_log_event(e) for e in events], expected_seq=self.state.seq)
        except (TypeError, OverflowError, ValueError) as exc:  # msgpack cannot store a value (e.g. an int >= 2**64)
            raise InvalidArgument(f"the request holds a value that cannot be stored ({exc}); send smaller values") from None
        except LogFailed as exc:
            raise storage_error(exc, self.log.directory) from None
        state = self.state
        for event, record in zip(events, records):
            state = apply_event(state, event, record.seq, record.ts)
        self.state = state
        if records:
            self._unsynced.append(state)
        self.feed.add(records)
        try:
            await durable
        except LogFailed as exc:  # undone: _roll_back already put the durable state back
            raise storage_error(exc, self.log.directory) from None
        self._synced(self.log.durable_seq)
        self.feed.durable(self.log.durable_seq)
        self._maybe_snapshot(state)
        return records

    async def durable_state(self) -> Workspace:
        """The current state, once everything folded into it is durable (after an undone write: the durable one)."""
        while True:
            state = self.state
            try:
                await self.log.wait_durable(state.seq)
                return state
            except LogWriteFailed:
                continue  # what it waited for was undone; self.state is the durable state now
            except LogFailed as exc:
                raise storage_error(exc, self.log.directory) from None

    def _synced(self, seq: int) -> None:
        """Everything up to `seq` is on disk: advance the durable state."""
        while self._unsynced and self._unsynced[0].seq <= seq:
            self._durable = self._unsynced.popleft()

    def _roll_back(self, durable_seq: int) -> None:
        """The log undid a write: forget every state folded past `durable_seq` (called before any waiter wakes)."""
        self._synced(durable_seq)
        self._unsynced.clear()
        log.warning("dropping the changes past seq %d: they could not be written", durable_seq)
        self.state = self._durable
        self.feed.discard_after(durable_seq)

    def _maybe_snapshot(self, state: Workspace) -> None:
        if (self._snapshotting is None and state.seq - self._snapshot_seq >= self.snapshot_every
                and time.monotonic() >= self._snapshot_after):
            previous, self._snapshot_seq = self._snapshot_seq, state.seq
            self._snapshotting = asyncio.get_running_loop().run_in_executor(None, self._write_snapshot, state)
            self._snapshotting.add_done_callback(lambda future: self._snapshot_done(future, previous))

    def _snapshot_done(self, future: asyncio.Future[Any], previous: int) -> None:
        self._snapshotting = None
        if future.exception() is not None:
            self._snapshot_seq, self._snapshot_after = previous, time.monotonic() + SNAPSHOT_RETRY
            log.error("snapshot failed (the log is intact; tried again in %.0f s): %s", SNAPSHOT_RETRY,
                      future.exception())

    def _write_snapshot(self, state: Workspace) -> None:
        path = self.snapshots.write(state.seq, to_data(state), SNAPSHOT_VERSION)
        log.info("snapshot of seq %d written to %s", state.seq, path)

    async def aclose(self) -> None:
        """Finish pending appends, write a final snapshot, release the workspace."""
        if self._snapshotting is not None:
            await asyncio.wait([self._snapshotting])
        try:
            state = await self.durable_state()
            if state.seq > self._snapshot_seq:
                self._write_snapshot(state)
                self._snapshot_seq = state.seq
        except (OSError, StorageFailed) as exc:
            log.error("no final snapshot (the log is intact; the next start folds more events): %s", exc)
        await self.log.aclose()
