"""Copying a checked dataset into the workspace: hard links on the same file system, else copies.

Files go to a temporary directory next to the target, which is renamed into place only when
every file is there; on any error (or a stop) the temporary directory is removed, so a failed
import leaves nothing half-copied behind.

`source` is the real path the server confined. Each file is opened once and what was opened must
really lie under `source` (`pdxsrv.confined`): a symbolic link swapped in after the check that leads
out of the dataset folder stops the copy with a `PathRefused` naming the link, and the file that lands
in the workspace is the file that was checked.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from pdxsrv import confined

COPY_THREADS = 4


def copy_dataset(
    source: str, target: str, files: list[str], progress: Callable[[int, int], None] | None = None,
    *, link: bool = True,
) -> str:
    """Copy `files` (relative to `source`) into the new directory `target`; return "hardlink", "copy" or "mixed"."""
    if os.path.exists(target) and os.listdir(target):
        raise FileExistsError(f"{target} is not empty")
    roots, where = (os.path.abspath(source),), f"the dataset folder {source}"
    temp = f"{target}.incoming"
    shutil.rmtree(temp, ignore_errors=True)
    used: set[str] = set()
    try:
        for folder in sorted({os.path.dirname(os.path.join(temp, rel)) for rel in files}):
            os.makedirs(folder, exist_ok=True)
        # Copies wait on the disk with the GIL released, so a few threads overlap them.
        with ThreadPoolExecutor(COPY_THREADS) as pool:
            placed = pool.map(lambda rel: confined.place(os.path.join(source, rel), os.path.join(temp, rel), roots,
                                                         rel, link, where), files)
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

