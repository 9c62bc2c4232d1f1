"""Safe extraction of a tar archive (any compression tarfile reads): every member is checked before any is written.

Refused, naming the member: absolute paths (`/x`, `C:\\x`, `\\x`), any `..` component, device files and FIFOs,
symbolic links whose target is absolute or holds `..` (so every link points down from its folder, and no chain
of links can climb out), hard links to anything but an earlier regular member. Extraction then uses tarfile's
`data` filter as well (no setuid bits, resolved links re-checked on disk).
"""

from __future__ import annotations

import os
import posixpath
import re
import tarfile
from typing import Callable

Progress = Callable[[int, int], None]
_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(ValueError):
    """The archive cannot be extracted."""


class UnsafeArchive(ArchiveError):
    """The archive holds a member that could write outside the destination, or a special file."""


def _clean(name: str, what: str) -> str:
    """The member path, normalised; UnsafeArchive if it is absolute or climbs out."""
    if not name or name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise UnsafeArchive(f"{what} {name!r} is an absolute path")
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        raise UnsafeArchive(f"{what} {name!r} contains '..'")
    return posixpath.normpath("/".join(p for p in parts if p not in ("", ".")) or ".")


def check(members: list[tarfile.TarInfo]) -> None:
    """Raise UnsafeArchive at the first member that is not a plain file, directory or inward link."""
    files: set[str] = set()
    for m in members:
        path = _clean(m.name, "member")
        if m.isdev() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise UnsafeArchive(f"member {m.name!r} is a device, FIFO or other special file")
        if m.issym():
            _clean(m.linkname, f"symbolic link {m.name!r} -> target")
        if m.islnk() and _clean(m.linkname, "hard link target") not in files:
            raise UnsafeArchive(f"hard link {m.name!r} points to {m.linkname!r}, which is not an earlier file of it")
        if m.isfile():
            files.add(path)


def extract(archive: str, dest: str, progress: Progress | None = None) -> None:
    """Check every member of `archive`, then extract them into `dest` (created)."""
    os.makedirs(dest, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            check(members)
            for done, member in enumerate(members, 1):
                tar.extract(member, dest, filter="data")
                if progress is not None:
                    progress(done, len(members))
    except tarfile.TarError as exc:  # including the data filter's refusals
        raise ArchiveError(f"{os.path.basename(archive)} is not a readable tar archive ({exc})") from None
