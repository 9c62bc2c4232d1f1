"""Copying a prefix of a log, frame for frame, into a new log directory."""

from __future__ import annotations

import os

from eventlog.errors import CorruptLog
from eventlog.frame import BadFrame, iter_records, skip_frames, valid_frame_after
from eventlog.segments import fsync_dir, list_segments, read_file, segment_name, write_all


def copy_prefix(source: str, target: str, until_seq: int) -> int:
    """Copy the records with seq <= until_seq into the empty or new directory `target`; return the last seq.

    Frames are copied byte for byte (seq, ts and data unchanged) after their CRC is checked. A torn
    frame at the end of the source (a crash artefact, or a write in progress) ends the copy.
    """
    os.makedirs(target, exist_ok=True)
    if list_segments(target):
        raise FileExistsError(f"{target} already holds an event log")
    segments = [s for s in list_segments(source) if s.first_seq <= until_seq]
    last = 0
    for i, seg in enumerate(segments):
        if seg.first_seq != last + 1:
            raise CorruptLog(seg.path, 0, last + 1, f"segment starts at seq {seg.first_seq}; events are missing")
        buf = read_file(seg.path)
        try:
            for record in iter_records(buf, 0, seg.first_seq):
                if record.seq > until_seq:
                    break
                last = record.seq
        except BadFrame as bad:
            if i < len(segments) - 1 or valid_frame_after(buf, bad.offset):
                raise CorruptLog(seg.path, bad.offset, bad.seq, bad.reason) from None
        end, _ = skip_frames(buf, 0, last - seg.first_seq + 1)
        fd = os.open(os.path.join(target, segment_name(seg.first_seq)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, memoryview(buf)[:end])
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(target)
    return last
