"""GET /browse: a confined, read-only directory listing of the allowed roots (an extension of the API).

Without `path`: ``{"status": 1, "path": null, "parent": null, "entries": [...]}``, one entry per root
(the workspace and each --allow-path). With `path` (resolved with realpath; it must lie inside a
root, else path_not_allowed): ``{"status": 1, "path": "/abs/dir", "parent": "/abs" | null (a root),
"entries": [...], "truncated": bool}``. An entry is ``{"name", "path", "is_dir": bool, "size": int
(files), "mtime": float}``; directories first, then files, each sorted by name; names starting with
a dot are left out; at most MAX_ENTRIES. A symbolic link is listed (with its own path, what it points
to described) only when its target lies inside a root; others are left out.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pdxsrv.api.base import APIHandler
from pdxsrv.domain.errors import NotFound
from pdxsrv.paths import confine, inside

MAX_ENTRIES = 2000


class BrowseHandler(APIHandler):
    """GET a directory's entries, or the roots."""

    async def get(self) -> None:
        roots = self.ctx.roots
        if self.args["path"] is None:
            entries = [e for e in (_entry(root, root) for root in roots) if e is not None]
            self.ok(path=None, parent=None, entries=entries)
            return
        path = confine(self.args["path"], roots)
        if not os.path.isdir(path):
            raise NotFound(f"{self.args['path']!r} is not a directory" + (" (it is a file)" if os.path.exists(path)
                                                                           else " (it does not exist)"))
        entries, truncated = await asyncio.get_running_loop().run_in_executor(None, listing, path, roots)
        parent = None if path in roots else os.path.dirname(path)
        self.ok(path=path, parent=parent, entries=entries, truncated=truncated)


def listing(path: str, roots: tuple[str, ...]) -> tuple[list[dict[str, Any]], bool]:
    """(the entries of `path`, directories first, then files, each by name; whether some were cut off)."""
    found = []
    with os.scandir(path) as it:
        for item in it:
            if item.name.startswith("."):
                continue
            if item.is_symlink() and not inside(os.path.realpath(item.path), roots):
                continue
            entry = _entry(item.path, item.name)
            if entry is not None:
                found.append(entry)
    found.sort(key=lambda e: (not e["is_dir"], e["name"]))
    return found[:MAX_ENTRIES], len(found) > MAX_ENTRIES


def _entry(path: str, name: str) -> dict[str, Any] | None:
    """One entry (following a link), or None when it vanished or cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    is_dir = os.path.isdir(path)
    entry: dict[str, Any] = {"name": name, "path": path, "is_dir": is_dir, "mtime": st.st_mtime}
    if not is_dir:
        entry["size"] = st.st_size
    return entry
