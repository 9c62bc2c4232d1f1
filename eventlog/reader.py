"""Reading records from a log directory, safely while a writer appends to it."""

from __future__ import annotations

from typing import Iterator

from eventlog.errors import CorruptLog
from eventlog.frame import BadFrame, Record, iter_records, skip_frames, valid_frame_after
from eventlog.segments import Segment, list_segments, read_file


def read_records(directory: str, from_seq: int = 1, *, tolerate_torn_tail: bool = True) -> Iterator[Record]:
    """Yield every record with seq >= from_seq, in order.

    A torn frame at the end of the last segment (a crash artefact, or a write in progress) ends the
    iteration when `tolerate_torn_tail`; any other bad frame raises CorruptLog (with `torn_tail` set
    when that is what it is).
    """
    segments = list_segments(directory)
    if not segments:
        return
    start = _segment_index(segments, from_seq)
    expected = segments[start].first_seq
    if start == 0 and expected != 1:
        raise CorruptLog(segments[0].path, 0, 1, f"the first segment starts at seq {expected}, not 1")
    for i in range(start, len(segments)):
        seg = segments[i]
        if seg.first_seq != expected:
            raise CorruptLog(seg.path, 0, expected, f"segment starts at seq {seg.first_seq}; events are missing")
        buf = read_file(seg.path)
        offset, skipped = skip_frames(buf, 0, from_seq - seg.first_seq) if from_seq > seg.first_seq else (0, 0)
        try:
            expected = yield from iter_records(buf, offset, seg.first_seq + skipped)
        except BadFrame as bad:
            torn = i == len(segments) - 1 and not valid_frame_after(buf, bad.offset)
            if torn and tolerate_torn_tail:
                return
            raise CorruptLog(seg.path, bad.offset, bad.seq, bad.reason, torn_tail=torn) from None


def read_newest_first(directory: str, before: int, until: int) -> Iterator[Record]:
    """Yield the records with seq < `before` and seq <= `until`, newest first.

    Each segment's frame headers are walked (no decoding), then only the frames yielded are
    decoded, from the last backwards: reading a page of the newest records costs little however
    long the log is. Frames past `until` (not durable yet, maybe being written) are never read.
    """
    last = min(before - 1, until)
    segments = [seg for seg in list_segments(directory) if seg.first_seq <= last]
    for seg in reversed(segments):
        buf = read_file(seg.path)
        count = last - seg.first_seq + 1
        offsets, offset = [], 0
        while len(offsets) < count:
            offsets.append(offset)
            offset, walked = skip_frames(buf, offset, 1)
            if not walked:
                offsets.pop()
                break
        for index in range(len(offsets) - 1, -1, -1):
            try:
                yield next(iter_records(buf, offsets[index], seg.first_seq + index))
            except BadFrame as bad:
                raise CorruptLog(seg.path, bad.offset, bad.seq, bad.reason) from None
        last = seg.first_seq - 1


def _segment_index(segments: list[Segment], seq: int) -> int:
    """Index of the last segment whose first seq is <= seq (0 if none)."""
    index = 0
    for i, seg in enumerate(segments):
        if seg.first_seq <= seq:
            index = i
    return index
