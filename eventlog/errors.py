"""Exceptions raised by the event log."""

from __future__ import annotations


class EventLogError(Exception):
    """Base class of every event-log error."""


class CorruptLog(EventLogError):
    """A frame that is not a crash artefact is bad: the log cannot be trusted past it."""

    def __init__(self, file: str, offset: int, seq: int, reason: str, *, torn_tail: bool = False) -> None:
        self.file, self.offset, self.seq, self.reason = file, offset, seq, reason
        self.torn_tail = torn_tail  # the bad frame ends the last segment: a crash artefact, not corruption
        super().__init__(
            f"event log is corrupt in {file} at byte offset {offset} (expected seq {seq}): {reason}. "
            "Run `pdxsrv events verify` to see the first problem and `--repair` to truncate the log there."
        )


class LogLocked(EventLogError):
    """Another process holds the log's writer lock."""

    def __init__(self, path: str, pid: int | None) -> None:
        self.path, self.pid = path, pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{path} is locked by {who}; only one writer may open an event log")


class SeqMismatch(EventLogError):
    """An append's expected last seq is not the log's last seq (optimistic concurrency)."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"expected the log to end at seq {expected}, but it ends at seq {actual}")


class LogClosed(EventLogError):
    """The log was closed."""


class LogFailed(EventLogError):
    """A write or sync failed; nothing more is accepted until the log is reopened (which recovers)."""


class LogWriteFailed(LogFailed):
    """A write or sync failed and was undone: the log ends at its last durable frame and accepts appends again.

    Every append in the failed group commit (and every one queued behind it) gets this error; none
    of them is on disk. `cause` is the OSError (ENOSPC when the disk is full).
    """

    def __init__(self, message: str, cause: OSError) -> None:
        super().__init__(message)
        self.cause = cause
