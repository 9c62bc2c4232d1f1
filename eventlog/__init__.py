"""An append-only, segmented, group-committed event log.

Generic: it stores typed, versioned records and knows nothing of what they mean.

Layout of a log directory::

    <dir>/LOCK                          flock()ed by the one writer; holds its pid (text)
    <dir>/00000000000000000001.seg      segments, named by the seq of their first frame (20 digits)
    <dir>/00000000000000012345.seg      a new segment starts once the current one reached the size limit
    <snapshot dir>/<seq, 20 digits>.snap

Frame (every segment is a plain concatenation of frames, nothing else)::

    +----------------+----------------+------------------------------+
    | length  u32 LE | crc32   u32 LE | payload: `length` bytes      |
    +----------------+----------------+------------------------------+

* ``crc32`` is zlib's CRC-32 of the payload bytes.
* ``length`` is 1 .. MAX_FRAME (64 MiB).
* The payload is one msgpack map with exactly these keys, in this order::

      {"seq": int, "ts": float, "type": str, "v": int, "data": any msgpack value}

  ``seq`` is dense: 1 for the first record ever, +1 for each next one, across segments (a segment's
  name is the seq of its first frame). ``ts`` is the Unix time (seconds, UTC) at which the writer
  accepted the record. ``type``/``v`` name the record's schema; the log never rewrites a record,
  so a schema change is handled by readers (upcasters), not by migrating files.

A snapshot file holds exactly one frame of the same format whose ``type`` is ``"snapshot"``,
``seq`` is the last record folded into it, ``v`` the caller's snapshot-format version and ``data``
the caller's state. Snapshots are written to a temp file, fsync'd, renamed, and the directory
fsync'd, so one either exists whole or not at all.

Durability and recovery:

* ``EventLog.append`` returns only after its frames are written and fdatasync'd. Appends that arrive
  while a sync is in flight are written together by the next one (group commit); the I/O runs on a
  dedicated thread, never on the event loop.
* A write or fdatasync that fails (ENOSPC, EIO, any OSError) is undone: the segment is truncated
  back to the size it had before the group commit (its last whole frame) and fdatasync'd, the
  log's last seq goes back to its durable seq, and every append of that group commit and every
  one queued behind it fails with ``LogWriteFailed`` (none is on disk, none is acknowledged). The
  log then accepts appends again (``on_rollback(durable_seq)`` tells the owner to drop what it
  folded). Only when the truncation itself fails does the log stop for good (``LogFailed``;
  reopening recovers, as after a crash).
* On open, the last segment is scanned. A frame that is cut short or fails its CRC, with no valid
  frame after it, is the artefact of a crash during a write: it is truncated and reported
  (``EventLog.recovered``, and a warning naming file, offset and seq). Any other bad frame, in the
  last segment or in a segment read later, raises ``CorruptLog(file, offset, seq)``; ``verify``
  scans everything and ``repair`` truncates the log at the first problem.
"""

from eventlog.errors import CorruptLog, LogClosed, LogFailed, LogLocked, LogWriteFailed, SeqMismatch
from eventlog.frame import Event, Record
from eventlog.copy import copy_prefix
from eventlog.log import EventLog
from eventlog.reader import read_records
from eventlog.snapshots import Snapshot, SnapshotStore, load_state
from eventlog.verify import Problem, VerifyReport, repair, verify

__all__ = [
    "CorruptLog",
    "Event",
    "EventLog",
    "LogClosed",
    "LogFailed",
    "LogLocked",
    "LogWriteFailed",
    "Problem",
    "Record",
    "SeqMismatch",
    "Snapshot",
    "SnapshotStore",
    "VerifyReport",
    "copy_prefix",
    "read_records",
    "repair",
    "load_state",
    "verify",
]
