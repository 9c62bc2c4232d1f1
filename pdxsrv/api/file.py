"""/file: a file of the workspace (or of an allowed directory): images as base64, text files as they are."""

from __future__ import annotations

import asyncio
import base64
import os
from urllib.parse import quote

from pdxsrv import files, missing
from pdxsrv.api.base import APIHandler
from pdxsrv.datasets import details, visualize
from pdxsrv.domain import commands
from pdxsrv.domain.commands import IMPORTED
from pdxsrv.domain.errors import Conflict, InvalidArgument, NotFound
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
            png = await self._labelled(path)
            self.ok(img_data=base64.b64encode(png).decode())
            return
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


    async def _labelled(self, path: str) -> bytes:
        """The image with its labels drawn (the image must be one of the dataset's)."""
        dataset = commands.get_dataset(await self.store.durable_state(), self.args["did"])
        if dataset.status not in IMPORTED:
            raise Conflict(f"dataset {dataset.id} is not imported (status {dataset.status.name}); it has no labels to draw")
        missing.require_dataset(self.store.root, dataset)
        root = os.path.realpath(files.dataset_dir(self.store.root, dataset.id))
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, details.load, root)
        if rel.startswith("../") or rel not in found["file_info"]:
            raise InvalidArgument(
                f"{self.args['path']!r} is not an image of dataset {dataset.id}; "
                f"its images are under {root} (GET /dataset/details lists them in file_info)"
            )
        bands = tuple(self.args["bands"] or (0, 1, 2))
        if len(bands) != 3 or not all(0 <= b < found.get("bands", 3) for b in bands):
            raise InvalidArgument(f"bands {list(bands)} must be three band numbers from 0 to {found.get('bands', 3) - 1}")
        return await loop.run_in_executor(
            None, visualize.render, root, dataset.type, rel, found["file_info"][rel], found["labels"], bands
        )


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
