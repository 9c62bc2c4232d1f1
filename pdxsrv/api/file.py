"""/file: a file of the workspace (or of an allowed directory): images as base64, text files as they are."""

from __future__ import annotations

import asyncio
import base64
import os
from urllib.parse import quote

from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable
from pdxsrv.domain import commands
from pdxsrv.domain.errors import InvalidArgument, NotFound
from pdxsrv.paths import confine

IMAGES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
RAW = {".xml": "application/xml", ".log": "text/plain", ".txt": "text/plain", ".json": "application/json",
       ".yml": "text/yaml", ".yaml": "text/yaml", ".npy": "application/octet-stream"}
MAX_BYTES = 64 * 1024 * 1024
CHUNK = 256 * 1024


class FileHandler(APIHandler):
    """GET {path[, did]}."""

    async def get(self) -> None:
        path = confine(self.args["path"], self.ctx.roots)
        if not os.path.isfile(path):
            what = "is a directory, not a file" if os.path.isdir(path) else "does not exist"
            raise NotFound(f"{self.args['path']!r} {what}")
        ext = os.path.splitext(path)[1].lower()
        if self.args["did"] is not None:
            commands.get_dataset(await self.store.durable_state(), self.args["did"])
            raise NotAvailable("label visualisation is not available in this build of pdxsrv yet")
        if ext in IMAGES:
            if os.path.getsize(path) > MAX_BYTES:
                raise InvalidArgument(f"{self.args['path']!r} is larger than {MAX_BYTES // 2**20} MiB")
            data = await asyncio.get_running_loop().run_in_executor(None, _read, path)
            self.ok(img_data=base64.b64encode(data).decode())
            return
        if ext not in RAW:
            kinds = ", ".join(sorted(IMAGES | set(RAW)))
            raise InvalidArgument(f"/file does not serve {ext or 'extension-less'} files; it serves: {kinds}")
        self.set_header("Content-Type", RAW[ext])
        self.set_header("Content-Disposition", f"inline; filename*=UTF-8''{quote(os.path.basename(path))}")
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
