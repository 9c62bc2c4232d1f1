"""GET /project/task/export/archive: a task's export as one zip download (an extension of the API).

Which export: the task's latest finished one, or the one whose `save_dir` is given (it must be one of
that task's). The answer is ``application/zip`` with ``Content-Disposition: attachment;
filename="<tid>-<type>.zip"`` (type: infer, onnx or quant), the export directory's files at the
zip's top level. The zip is built in a temporary file in a thread, then streamed in chunks; only
regular files inside the export directory go in (a symbolic link is followed only when its target
lies inside that directory too). No such export: the usual JSON error.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import zipfile

from pdxsrv.api.task_jobs import TaskJobHandler
from pdxsrv.domain.errors import NotFound
from pdxsrv.domain.state import Job, Task, Workspace
from pdxsrv.paths import confine, inside

CHUNK = 256 * 1024


class ExportArchiveHandler(TaskJobHandler):
    """GET the zip of an export."""

    async def get(self) -> None:
        state, task = await self.task()
        job = self._export(state, task)
        folder = str(job.result["save_dir"])
        if not os.path.isdir(folder):
            raise NotFound(f"the export of {task.id} at {folder} no longer exists; POST /project/task/export "
                           "to export again")
        loop = asyncio.get_running_loop()
        fd, path = tempfile.mkstemp(prefix="pdxsrv-export-", suffix=".zip")
        os.close(fd)
        try:
            await loop.run_in_executor(None, write_zip, folder, path)
            self.set_header("Content-Type", "application/zip")
            self.set_header("Content-Disposition", f'attachment; filename="{task.id}-{export_type(job)}.zip"')
            self.set_header("Content-Length", str(os.path.getsize(path)))
            with open(path, "rb") as f:
                while chunk := await loop.run_in_executor(None, f.read, CHUNK):
                    self.write(chunk)
                    await self.flush()
            self.finish()
        finally:
            os.unlink(path)

    def _export(self, state: Workspace, task: Task) -> Job:
        """The chosen finished export job of the task."""
        done = sorted((j for j in state.jobs.values()
                       if j.kind == "export" and j.subject == task.id and j.result.get("ok") and j.result.get("save_dir")),
                      key=lambda j: j.created)
        if self.args["save_dir"] is not None:
            wanted = confine(self.args["save_dir"], self.ctx.roots, "save_dir")
            done = [j for j in done if j.result["save_dir"] == wanted]
            if not done:
                raise NotFound(f"task {task.id} has no finished export in {self.args['save_dir']!r}; POST "
                               f"/project/task/export {{tid: {task.id}, save_dir: ...}} first (GET "
                               "/project/task/export gives the latest export's save_dir)")
        if not done:
            raise NotFound(f"task {task.id} has no finished export; POST /project/task/export first")
        return done[-1]


def export_type(job: Job) -> str:
    """infer, onnx or quant: what the export job wrote."""
    if job.result.get("quant_result"):
        return "quant"
    return "onnx" if job.result.get("exported_type") == 2 else "infer"


def write_zip(folder: str, path: str) -> None:
    """Zip the regular files under `folder` (never what a link points to outside it) into `path`."""
    root = os.path.realpath(folder)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for current, dirs, names in os.walk(root, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(current, name)
                real = os.path.realpath(full)
                if inside(real, (root,)) and os.path.isfile(real):
                    archive.write(real, os.path.relpath(full, root))
