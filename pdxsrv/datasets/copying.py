"""Copying a checked dataset into the workspace: hard links on the same file system, else copies.

Files go to a temporary directory next to the target, which is renamed into place only when
every file is there; on any error (or a stop) the temporary directory is removed, so a failed
import leaves nothing half-copied behind.
"""

from __future__ import annotations

import errno
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

LINK_ERRORS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES}
COPY_THREADS = 4


def copy_dataset(
    source: str, target: str, files: list[str], progress: Callable[[int, int], None] | None = None,
    *, link: bool = True,
) -> str:
    """Copy `files` (relative to `source`) into the new directory `target`; return "hardlink", "copy" or "mixed"."""
    if os.path.exists(target) and os.listdir(target):
        raise FileExistsError(f"{target} is not empty")
    temp = f"{target}.incoming"
    shutil.rmtree(temp, ignore_errors=True)
    used: set[str] = set()
    try:
        for folder in sorted({os.path.dirname(os.path.join(temp, rel)) for rel in files}):
            os.makedirs(folder, exist_ok=True)
        # Copies wait on the disk with the GIL released, so a few threads overlap them.
        with ThreadPoolExecutor(COPY_THREADS) as pool:
            placed = pool.map(lambda rel: _place(os.path.join(source, rel), os.path.join(temp, rel), link), files)
            for done, method in enumerate(placed, 1):
                used.add(method)
                if progress is not None and (done % 100 == 0 or done == len(files)):
                    progress(done, len(files))
        if os.path.isdir(target):
            os.rmdir(target)
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return used.pop() if len(used) == 1 else ("mixed" if used else "copy")


def _place(source: str, destination: str, link: bool) -> str:
    if link:
        try:
            os.link(os.path.realpath(source), destination)
            return "hardlink"
        except OSError as exc:
            if exc.errno not in LINK_ERRORS:
                raise
    shutil.copyfile(source, destination)
    return "copy"
