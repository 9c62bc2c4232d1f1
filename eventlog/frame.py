"""Frame encoding and scanning (the format is in the package docstring)."""

from __future__ import annotations

import struct
import zlib
from typing import Any, Iterator, NamedTuple

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


def decode_payload(payload: bytes | memoryview) -> Record:
    """Decode a payload whose CRC was checked."""
    d = msgpack.unpackb(payload, raw=False)
    return Record(d["seq"], d["ts"], d["type"], d["v"], d["data"])


def iter_frames(buf: bytes, offset: int, seq: int, *, decode: bool = True) -> Iterator[tuple[int, Record | None]]:
    """Yield (offset, record) from `offset` to the end of `buf`; raise BadFrame at the first bad frame.

    `seq` is the seq the frame at `offset` must carry. With decode=False only lengths and CRCs are
    checked and None is yielded for the record.
    """
    view = memoryview(buf)
    end = len(buf)
    unpack_header = HEADER.unpack_from
    crc32 = zlib.crc32
    unpackb = msgpack.unpackb
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
        if decode:
            try:
                d = unpackb(payload)
                record = Record(d["seq"], d["ts"], d["type"], d["v"], d["data"])
            except Exception as exc:  # a CRC-valid frame that does not decode: written by a bad writer
                raise BadFrame(offset, seq, f"undecodable payload ({exc.__class__.__name__})") from None
            if record.seq != seq:
                raise BadFrame(offset, seq, f"frame carries seq {record.seq}")
            yield offset, record
        else:
            yield offset, None
        offset = stop
        seq += 1


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
