"""Frame encoding and scanning (the format is in the package docstring)."""

from __future__ import annotations

import struct
import zlib
from typing import Any, Generator, NamedTuple

import msgpack

HEADER = struct.Struct("<II")
HEADER_SIZE = HEADER.size
MAX_FRAME = 64 * 1024 * 1024
# Every payload starts with a 5-entry fixmap whose first key is "seq": used to find frames after a bad one.
PAYLOAD_MAGIC = b"\x85\xa3seq"


class Event(NamedTuple):
    """A record to append: the log adds seq and ts."""

    type: str
    data: Any
    v: int = 1


class Record(NamedTuple):
    """A record as stored."""

    seq: int
    ts: float
    type: str
    v: int
    data: Any


class BadFrame(Exception):
    """Internal: the frame at `offset` (which should carry `seq`) is unreadable."""

    def __init__(self, offset: int, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.offset, self.seq, self.reason = offset, seq, reason


def encode(record: Record) -> bytes:
    """Return the frame bytes of one record."""
    payload = msgpack.packb(
        {"seq": record.seq, "ts": record.ts, "type": record.type, "v": record.v, "data": record.data},
        use_bin_type=True,
    )
    if len(payload) > MAX_FRAME:
        raise ValueError(f"record {record.type!r} is {len(payload)} bytes; the limit is {MAX_FRAME}")
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def iter_records(buf: bytes, offset: int, seq: int) -> Generator[Record, None, int]:
    """Yield the records of the frames from `offset` to the end of `buf`; return the seq after the last.

    `seq` is the seq the frame at `offset` must carry. Raises BadFrame at the first bad frame.
    """
    view = memoryview(buf)
    end = len(buf)
    unpack_header = HEADER.unpack_from
    crc32 = zlib.crc32
    unpackb = msgpack.unpackb
    new_record = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path
    while offset < end:
        if end - offset < HEADER_SIZE:
            raise BadFrame(offset, seq, f"incomplete frame header ({end - offset} of {HEADER_SIZE} bytes)")
        length, crc = unpack_header(buf, offset)
        start = offset + HEADER_SIZE
        stop = start + length
        if length == 0 or length > MAX_FRAME:
            raise BadFrame(offset, seq, f"impossible frame length {length}")
        if stop > end:
            raise BadFrame(offset, seq, f"frame of {length} bytes cut short at {end - start}")
        payload = view[start:stop]
        if crc32(payload) != crc:
            raise BadFrame(offset, seq, "CRC mismatch")
        try:
            d = unpackb(payload)
            record = new_record(Record, (d["seq"], d["ts"], d["type"], d["v"], d["data"]))
        except Exception as exc:  # a CRC-valid frame that does not decode: written by a bad writer
            raise BadFrame(offset, seq, f"undecodable payload ({exc.__class__.__name__})") from None
        if record.seq != seq:
            raise BadFrame(offset, seq, f"frame carries seq {record.seq}")
        yield record
        offset = stop
        seq += 1
    return seq


def skip_frames(buf: bytes, offset: int, count: int) -> tuple[int, int]:
    """Walk up to `count` frame headers from `offset` (no CRC, no decoding): (new offset, frames walked).

    Stops early at a length that cannot be right, leaving it to iter_records to report.
    """
    end, walked = len(buf), 0
    while walked < count and end - offset >= HEADER_SIZE:
        length = HEADER.unpack_from(buf, offset)[0]
        if length == 0 or offset + HEADER_SIZE + length > end:
            break
        offset += HEADER_SIZE + length
        walked += 1
    return offset, walked


def valid_frame_after(buf: bytes, offset: int) -> bool:
    """Whether any CRC-valid frame starts after `offset` (a bad frame followed by good ones is corruption)."""
    end = len(buf)
    pos = offset + 1
    while True:
        i = buf.find(PAYLOAD_MAGIC, pos + HEADER_SIZE)
        if i < 0:
            return False
        start = i - HEADER_SIZE
        length, crc = HEADER.unpack_from(buf, start)
        if 0 < length <= end - i and zlib.crc32(memoryview(buf)[i : i + length]) == crc:
            return True
        pos = start + 1
