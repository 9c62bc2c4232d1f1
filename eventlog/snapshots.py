"""Snapshots: one frame per file, written atomically; "latest snapshot + tail" loading.

A write that fails (a full disk) removes its temp file and raises; the snapshots already there stay.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, NamedTuple, TypeVar

from eventlog.frame import BadFrame, Record, encode, iter_records
from eventlog.segments import fsync_dir, read_file, write_all

log = logging.getLogger("eventlog")

SUFFIX = ".snap"
S = TypeVar("S")


class Snapshot(NamedTuple):
    """A stored snapshot: the state after folding records 1..seq."""

    seq: int
    ts: float
    v: int
    data: Any
    path: str


class SnapshotStore:
    """The snapshot files of one log, in their own directory."""

    def __init__(self, directory: str, *, keep: int = 3) -> None:
        self.directory = os.path.abspath(directory)
        self.keep = keep

    def seqs(self) -> list[int]:
        """Seqs of the stored snapshots, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(int(n[: -len(SUFFIX)]) for n in names if n.endswith(SUFFIX) and n[: -len(SUFFIX)].isdigit())

    def path(self, seq: int) -> str:
        """File path of the snapshot taken at `seq`."""
        return os.path.join(self.directory, f"{seq:020d}{SUFFIX}")

    def write(self, seq: int, data: Any, v: int = 1) -> str:
        """Write the snapshot at `seq` atomically (temp file, fsync, rename, fsync dir); drop old ones."""
        os.makedirs(self.directory, exist_ok=True)
        frame = encode(Record(seq, time.time(), "snapshot", v, data))
        final = self.path(seq)
        temp = f"{final}.{os.getpid()}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                write_all(fd, frame)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, final)
        except BaseException:  # a full disk: the partial temp file goes (it is never read: not a .snap)
            remove_quietly(temp)
            raise
        fsync_dir(self.directory)
        self._prune()
        return final

    def load(self, seq: int) -> Snapshot | None:
        """Read the snapshot at `seq`; None (with a warning) if it is unreadable."""
        path = self.path(seq)
        try:
            buf = read_file(path)
            record, *rest = list(iter_records(buf, 0, seq))
            if rest or record.type != "snapshot":
                raise BadFrame(0, seq, "not a single snapshot frame")
        except (OSError, BadFrame, ValueError) as exc:
            log.warning("event log: ignoring unreadable snapshot %s: %s", path, exc)
            return None
        return Snapshot(record.seq, record.ts, record.v, record.data, path)

    def latest(self, *, max_seq: int, v: int | None = None) -> Snapshot | None:
        """The newest readable snapshot with seq <= max_seq (and format version `v` if given)."""
        for seq in reversed(self.seqs()):
            if seq > max_seq:
                continue
            snap = self.load(seq)
            if snap is not None and (v is None or snap.v == v):
                return snap
        return None

    def discard_after(self, seq: int) -> list[str]:
        """Delete snapshots of records past `seq` (after the log was truncated); return their paths."""
        removed = []
        for s in self.seqs():
            if s > seq:
                os.remove(self.path(s))
                removed.append(self.path(s))
        if removed:
            fsync_dir(self.directory)
        return removed

    def _prune(self) -> None:
        for seq in self.seqs()[: -self.keep]:
            os.remove(self.path(seq))


def remove_quietly(path: str) -> None:
    """Remove a file if it is there."""
    try:
        os.remove(path)
    except OSError:
        pass


def load_state(
    records: Callable[[int], Any],
    store: SnapshotStore | None,
    *,
    last_seq: int,
    initial: S,
    apply: Callable[[S, Record], S],
    from_snapshot: Callable[[Any], S],
    v: int | None = None,
) -> tuple[S, int, Snapshot | None]:
    """Latest snapshot + fold of the tail: return (state, seq folded up to, snapshot used)."""
    snap = store.latest(max_seq=last_seq, v=v) if store is not None else None
    state, seq = (from_snapshot(snap.data), snap.seq) if snap else (initial, 0)
    for record in records(seq + 1):
        state = apply(state, record)
        seq = record.seq
    return state, seq, snap
