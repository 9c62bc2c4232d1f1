"""Segment files: naming, listing, reading, and the small fsync helpers they need."""

from __future__ import annotations

import os
from typing import NamedTuple

SUFFIX = ".seg"


class Segment(NamedTuple):
    """One segment file and the seq of its first frame."""

    first_seq: int
    path: str


def segment_name(first_seq: int) -> str:
    """Return the file name of the segment whose first frame has `first_seq`."""
    return f"{first_seq:020d}{SUFFIX}"


def list_segments(directory: str) -> list[Segment]:
    """Return the segments of a log directory in seq order (empty if it does not exist)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext == SUFFIX and stem.isdigit():
            found.append(Segment(int(stem), os.path.join(directory, name)))
    return sorted(found)


def read_file(path: str) -> bytes:
    """Read a whole file (segments are bounded by the rotation size)."""
    with open(path, "rb") as f:
        return f.read()


def fsync_dir(directory: str) -> None:
    """Make a directory's entries (created, renamed, removed files) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def truncate(path: str, size: int) -> None:
    """Truncate a file to `size` bytes, durably."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
