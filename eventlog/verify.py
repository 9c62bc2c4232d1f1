"""verify (scan everything, report the first problem) and repair (truncate the log there)."""

from __future__ import annotations

import os
from typing import NamedTuple

from eventlog.errors import CorruptLog
from eventlog.lock import acquire_lock
from eventlog.reader import read_records
from eventlog.segments import fsync_dir, list_segments, truncate
from eventlog.snapshots import SnapshotStore


class Problem(NamedTuple):
    """The first bad place of a log; `torn_tail` if it is a crash artefact that open() truncates."""

    file: str
    offset: int
    seq: int
    reason: str
    torn_tail: bool


class VerifyReport(NamedTuple):
    """The result of a full scan."""

    records: int
    last_seq: int
    segments: int
    bytes: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        """True when every frame is sound (a torn tail is not corruption)."""
        return self.problem is None or self.problem.torn_tail


def verify(directory: str) -> VerifyReport:
    """Decode and check every frame of every segment (CRC, lengths, dense seqs)."""
    segments = list_segments(directory)
    total = sum(os.path.getsize(s.path) for s in segments)
    count = last = 0
    problem = None
    try:
        for record in read_records(directory, 1, tolerate_torn_tail=False):
            count, last = count + 1, record.seq
    except CorruptLog as bad:
        problem = Problem(bad.file, bad.offset, bad.seq, bad.reason, bad.torn_tail)
    return VerifyReport(count, last, len(segments), total, problem)


def repair(directory: str, snapshot_dir: str | None = None) -> Problem | None:
    """Truncate the log at its first problem and drop later segments and snapshots; return the problem.

    Takes the writer lock, so it refuses to run while a writer has the log open.
    """
    lock_fd = acquire_lock(os.path.join(directory, "LOCK"))
    try:
        problem = verify(directory).problem
        if problem is None:
            return None
        truncate(problem.file, problem.offset)
        for seg in list_segments(directory):
            if seg.first_seq > problem.seq:
                os.remove(seg.path)
        fsync_dir(directory)
        if snapshot_dir is not None:
            SnapshotStore(snapshot_dir).discard_after(problem.seq - 1)
        return problem
    finally:
        os.close(lock_fd)
