"""The writer: open with recovery, group-committed appends, rotation."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, NamedTuple, Sequence

from eventlog.errors import CorruptLog, LogClosed, LogFailed, LogWriteFailed, SeqMismatch
from eventlog.frame import BadFrame, Event, Record, encode, iter_records, valid_frame_after
from eventlog.lock import acquire_lock
from eventlog.reader import read_records
from eventlog.segments import fsync_dir, list_segments, read_file, segment_name, truncate, write_all

log = logging.getLogger("eventlog")

DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024


class TruncatedTail(NamedTuple):
    """What open() cut off the end of the last segment."""

    file: str
    offset: int
    seq: int
    dropped_bytes: int
    reason: str


class EventLog:
    """An append-only log in one directory, with one writer (this object) holding its lock."""

    def __init__(self, directory: str, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.directory = os.path.abspath(directory)
        self.segment_bytes = segment_bytes
        self.recovered: TruncatedTail | None = None
        os.makedirs(self.directory, exist_ok=True)
        self._lock_fd = acquire_lock(os.path.join(self.directory, "LOCK"))
        try:
            self._last_seq = self._durable_seq = self._open_tail()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="eventlog-sync")
        self._pending: list[bytes] = []
        self._pending_first_seq = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._durable_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        self._closed = False
        self.on_rollback: Callable[[int], None] | None = None  # called (on the loop) with the durable seq after an undone write
        self.syncs = 0  # fdatasync calls made: with group commit, far fewer than appends

    # -- state -----------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """Seq of the last record accepted (durable or about to be)."""
        return self._last_seq

    @property
    def durable_seq(self) -> int:
        """Seq of the last record known to be on disk."""
        return self._durable_seq

    # -- appending -------------------------------------------------------------------------------

    def submit(self, events: Sequence[Event], expected_seq: int | None = None) -> tuple[list[Record], asyncio.Future[None]]:
        """Accept `events` now: return their records (seqs assigned) and a future that resolves once durable.

        Must be called on the event loop. Raises SeqMismatch, LogFailed or LogClosed without
        accepting anything; a record that msgpack cannot encode raises TypeError the same way.
        """
        records, frames = self._accept(events, expected_seq)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not records:
            future.set_result(None)
            return records, future
        if not self._pending:
            self._pending_first_seq = records[0].seq
        self._pending.extend(frames)
        self._waiters.append((records[-1].seq, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return records, future

    async def append(self, events: Sequence[Event], expected_seq: int | None = None) -> list[Record]:
        """Append `events` and return their records once they are durable."""
        records, durable = self.submit(events, expected_seq)
        await durable
        return records

    def append_sync(self, events: Sequence[Event], expected_seq: int | None = None, *, sync: bool = True) -> list[Record]:
        """Blocking append for tools that run no event loop (`sync=False` skips fdatasync); do not mix with `submit`."""
        if self._flusher is not None:
            raise RuntimeError("append_sync while asynchronous appends are in flight")
        records, frames = self._accept(events, expected_seq)
        if records:
            try:
                self._write(b"".join(frames), records[0].seq, sync)
            except OSError as exc:  # undone by _write: the log ends where it did
                self._last_seq = records[0].seq - 1
                raise LogWriteFailed(f"writing to {self.directory} failed, nothing was written: {exc}", exc) from exc
            except BaseException as exc:
                self._failed = exc
                raise LogFailed(f"writing to {self.directory} failed: {exc}") from exc
            if sync:
                self._durable_seq = records[-1].seq
        return records

    async def wait_durable(self, seq: int) -> None:
        """Return once every record up to `seq` is durable."""
        if seq <= self._durable_seq:
            return
        self._check_usable()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._durable_waiters.append((seq, future))
        await future

    def _accept(self, events: Sequence[Event], expected_seq: int | None) -> tuple[list[Record], list[bytes]]:
        self._check_usable()
        if expected_seq is not None and expected_seq != self._last_seq:
            raise SeqMismatch(expected_seq, self._last_seq)
        ts = time.time()
        records, frames = [], []
        seq = self._last_seq
        for event in events:
            seq += 1
            record = Record(seq, ts, event.type, event.v, event.data)
            frames.append(encode(record))
            records.append(record)
        self._last_seq = seq
        return records, frames

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                data, first_seq = b"".join(self._pending), self._pending_first_seq
                waiters = self._waiters
                self._pending, self._waiters = [], []
                try:
                    await loop.run_in_executor(self._executor, self._write, data, first_seq)
                except OSError as exc:
                    self._roll_back(exc, waiters)
                    return
                except BaseException as exc:
                    self._fail(exc, waiters)
                    return
                self._durable_seq = waiters[-1][0]
                for _, future in waiters:
                    if not future.done():
                        future.set_result(None)
                self._wake_durable_waiters()
        finally:
            self._flusher = None

    def _roll_back(self, exc: OSError, waiters: list) -> None:
        """A write was undone: forget every accepted record past the durable seq and fail their appends."""
        log.error("event log %s: write failed and was undone (seqs %d.. not stored): %s",
                  self.directory, self._durable_seq + 1, exc)
        self._last_seq = self._durable_seq
        error = LogWriteFailed(f"writing to {self.directory} failed, nothing was written: {exc}", exc)
        if self.on_rollback is not None:
            self.on_rollback(self._durable_seq)
        self._abort_waiters(error, waiters)

    def _fail(self, exc: BaseException, waiters: list) -> None:
        self._failed = exc
        log.error("event log %s: write failed, no more appends accepted: %s", self.directory, exc)
        self._last_seq = self._durable_seq
        if self.on_rollback is not None:
            self.on_rollback(self._durable_seq)
        self._abort_waiters(LogFailed(f"writing to {self.directory} failed: {exc}"), waiters)

    def _abort_waiters(self, error: Exception, waiters: list) -> None:
        futures = [w[1] for w in waiters + self._waiters] + [w[1] for w in self._durable_waiters]
        self._pending, self._waiters, self._durable_waiters = [], [], []
        for future in futures:
            if not future.done():
                future.set_exception(error)

    def _wake_durable_waiters(self) -> None:
        still = []
        for seq, future in self._durable_waiters:
            if seq <= self._durable_seq:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((seq, future))
        self._durable_waiters = still

    def _check_usable(self) -> None:
        if self._closed:
            raise LogClosed(f"event log {self.directory} is closed")
        if self._failed is not None:
            raise LogFailed(f"event log {self.directory} failed earlier ({self._failed}); reopen it to recover")

    # -- files (the sync thread, or the caller of append_sync) ------------------------------------

    def _write(self, data: bytes, first_seq: int, sync: bool = True) -> None:
        """Write (and sync) `data`; on an OSError, cut the segment back to where it ended and re-raise."""
        if self._segment_size >= self.segment_bytes:
            self._rotate(first_seq)
        start = self._segment_size
        try:
            write_all(self._fd, data)
            if sync:
                os.fdatasync(self._fd)
        except OSError:
            self._cut(start)
            raise
        self._segment_size += len(data)
        if sync:
            self.syncs += 1

    def _cut(self, size: int) -> None:
        """Truncate the open segment back to `size` bytes, durably; LogFailed (for good) if that fails too."""
        try:
            os.ftruncate(self._fd, size)
            os.fdatasync(self._fd)
        except OSError as exc:
            raise LogFailed(f"cannot truncate {self._segment_path} back to {size} bytes after a failed write: {exc}") from exc

    def _rotate(self, first_seq: int) -> None:
        path = os.path.join(self.directory, segment_name(first_seq))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            fsync_dir(self.directory)
        except OSError:  # leave no empty segment behind that a retry's O_EXCL would trip on
            os.close(fd)
            os.unlink(path)
            raise
        os.close(self._fd)
        self._fd, self._segment_path, self._segment_size = fd, path, 0

    def _open_tail(self) -> int:
        """Open the last segment for appending, truncating a torn tail; return the last seq."""
        segments = list_segments(self.directory)
        if not segments:
            path = os.path.join(self.directory, segment_name(1))
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fsync_dir(self.directory)
            self._segment_path, self._segment_size = path, 0
            return 0
        first_seq, path = segments[-1]
        buf = read_file(path)
        seq, size = first_seq, len(buf)
        try:
            for record in iter_records(buf, 0, first_seq):
                seq = record.seq + 1
        except BadFrame as bad:
            if valid_frame_after(buf, bad.offset):
                raise CorruptLog(path, bad.offset, bad.seq, bad.reason) from None
            truncate(path, bad.offset)
            size = bad.offset
            self.recovered = TruncatedTail(path, bad.offset, bad.seq, len(buf) - bad.offset, bad.reason)
            log.warning(
                "event log: truncated a torn frame at the end of %s: offset %d, seq %d, %d bytes dropped (%s)",
                path, bad.offset, bad.seq, len(buf) - bad.offset, bad.reason,
            )
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._segment_path, self._segment_size = path, size
        return seq - 1

    # -- reading and closing ---------------------------------------------------------------------

    def read(self, from_seq: int = 1) -> Iterator[Record]:
        """Yield durable records from `from_seq` (what is still pending is not on disk yet)."""
        until = self._durable_seq
        if from_seq > until:
            return
        for record in read_records(self.directory, from_seq, tolerate_torn_tail=False):
            yield record
            if record.seq >= until:
                return

    async def aclose(self) -> None:
        """Wait for pending appends, then close."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        self.close()

    def close(self) -> None:
        """Close the files and release the lock (pending appends that are not durable fail)."""
        if self._closed:
            return
        self._closed = True
        self._abort_waiters(LogClosed(f"event log {self.directory} closed before this append was durable"), [])
        self._executor.shutdown(wait=True)
        os.close(self._fd)
        os.close(self._lock_fd)

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
