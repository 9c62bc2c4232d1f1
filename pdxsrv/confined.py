"""Copying client files as confined: each file is opened once, the real path of what was opened must lie inside
the allowed roots, and that same open file (its inode) is what lands in the workspace.

A path checked by `paths.confine` can be swapped for a symbolic link before it is used. Here the check is on
the file really opened (`/proc/self/fd/N`), so a link met at use time that leads out of the roots stops the
copy with a `PathRefused` naming the link. A hard link is made by the real path and then compared with the
open file (device and inode); if anything changed in between, the link is undone and the open file copied.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

from pdxsrv.paths import PathRefused, inside

LINK_ERRORS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES}


def opened_path(fd: int, path: str) -> str:
    """The real path of the file open as `fd` (Linux: /proc/self/fd; elsewhere the realpath, checked to be it)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        real = os.path.realpath(path)
        try:
            same = os.path.samestat(os.stat(real), os.fstat(fd))
        except OSError:
            same = False
        if not same:
            raise PathRefused(f"{path} changed while it was opened; try again") from None
        return real


def first_link(path: str) -> str | None:
    """The first component of `path` (absolute) that is a symbolic link now, or None."""
    parts = os.path.abspath(path).split(os.sep)
    for end in range(2, len(parts) + 1):
        prefix = os.sep.join(parts[:end])
        try:
            if os.path.islink(prefix):
                return prefix
        except OSError:
            return None
    return None


def refusal(path: str, real: str, roots: tuple[str, ...], shown: str, where: str | None = None) -> PathRefused:
    """The error for `path` (shown as `shown`) that really is `real`, outside `roots` (described as `where`):
    it names the link."""
    link = first_link(path)
    if link is not None:
        try:
            target = os.readlink(link)
        except OSError:
            target = real
        how = f"through the symbolic link {link} -> {target}"
    else:
        how = f"(it is really {real})"
    where = where or f"the directories this server may use ({', '.join(roots)})"
    return PathRefused(f"{shown} leads outside {where} {how}; nothing was copied")


def open_inside(path: str, roots: tuple[str, ...], shown: str | None = None, where: str | None = None) -> int:
    """Open the regular file `path` for reading; PathRefused unless what was opened really lies inside `roots`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathRefused(f"{shown or path} is not a regular file")
        real = opened_path(fd, path)
        if not inside(real, roots):
            raise refusal(path, real, roots, shown or path, where)
    except BaseException:
        os.close(fd)
        raise
    return fd


def place(path: str, destination: str, roots: tuple[str, ...], shown: str | None = None, link: bool = True,
          where: str | None = None) -> str:
    """Put the file `path` (confined as in `open_inside`) at `destination`: "hardlink" or "copy"."""
    fd = open_inside(path, roots, shown, where)
    try:
        if link and _linked(fd, opened_path(fd, path), destination):
            return "hardlink"
        with open(fd, "rb", closefd=False) as src, open(destination, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return "copy"
    finally:
        os.close(fd)


def _linked(fd: int, real: str, destination: str) -> bool:
    """Hard-link `real` to `destination` if that is the open file `fd`; False (nothing left) when it cannot be."""
    try:
        os.link(real, destination, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in LINK_ERRORS and exc.errno != errno.ENOENT:
            raise
        return False
    if os.path.samestat(os.lstat(destination), os.fstat(fd)):
        return True
    os.remove(destination)  # `real` was swapped between the check and the link
    return False


def copy_tree(source: str, target: str, roots: tuple[str, ...], skip: tuple[str, ...] = (),
              _seen: frozenset[str] = frozenset()) -> None:
    """Copy the folder `source` to the new folder `target`, each file confined to `roots` (links are followed
    only where they stay inside; files whose names end with one of `skip` are left out)."""
    real_source = os.path.realpath(source)
    if real_source in _seen:
        raise PathRefused(f"{source} is a symbolic link that makes a directory loop")
    os.makedirs(target)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if skip and entry.name.endswith(skip):
            continue
        real = os.path.realpath(entry.path)
        if not inside(real, roots):
            raise refusal(entry.path, real, roots, entry.path)
        if entry.is_dir():
            copy_tree(entry.path, os.path.join(target, entry.name), roots, skip, _seen | {real_source})
        else:  # the check above is advisory; open_inside's, on the file opened, is the one that holds
            place(entry.path, os.path.join(target, entry.name), roots, entry.path, link=False)
