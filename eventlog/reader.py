"""Reading records from a log directory, safely while a writer appends to it."""

from __future__ import annotations

from typing import Iterator

from eventlog.errors import CorruptLog
from eventlog.frame import HEADER, HEADER_SIZE, BadFrame, Record, iter_frames, valid_frame_after
from eventlog.segments import Segment, list_segments, read_file


def read_records(directory: str, from_seq: int = 1, *, tolerate_torn_tail: bool = True) -> Iterator[Record]:
    """Yield every record with seq >= from_seq, in order.

    A torn frame at the end of the last segment (a crash artefact, or a write in progress) ends the
    iteration when `tolerate_torn_tail`; any other bad frame raises CorruptLog.
    """
    segments = list_segments(directory)
    if not segments:
        return
    start = max(0, _segment_index(segments, from_seq))
    expected = segments[start].first_seq
    if start == 0 and expected != 1:
        raise CorruptLog(segments[0].path, 0, 1, f"the first segment starts at seq {expected}, not 1")
    for i in range(start, len(segments)):
        seg = segments[i]
        if seg.first_seq != expected:
            raise CorruptLog(seg.path, 0, expected, f"segment starts at seq {seg.first_seq}; events are missing")
        buf = read_file(seg.path)
        offset, seq = 0, seg.first_seq
        if seq < from_seq:
            offset, seq = _skip(buf, seq, from_seq)
        expected = seq
        try:
            for _, record in iter_frames(buf, offset, seq):
                expected = record.seq + 1
                yield record
        except BadFrame as bad:
            torn = i == len(segments) - 1 and not valid_frame_after(buf, bad.offset)
            if torn and tolerate_torn_tail:
                return
            raise CorruptLog(seg.path, bad.offset, bad.seq, bad.reason, torn_tail=torn) from None


def _segment_index(segments: list[Segment], seq: int) -> int:
    """Index of the last segment whose first seq is <= seq."""
    index = 0
    for i, seg in enumerate(segments):
        if seg.first_seq <= seq:
            index = i
    return index


def _skip(buf: bytes, seq: int, target: int) -> tuple[int, int]:
    """Walk frame headers (no CRC, no decoding) until the frame of `target` or a frame that looks bad."""
    offset, end = 0, len(buf)
    while seq < target and end - offset >= HEADER_SIZE:
        length = HEADER.unpack_from(buf, offset)[0]
        if length == 0 or offset + HEADER_SIZE + length > end:
            break  # let iter_frames report it
        offset += HEADER_SIZE + length
        seq += 1
    return offset, seq
