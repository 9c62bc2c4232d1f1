"""The shared base of the task routes whose work runs in a job, and those not built yet: prune, export, vdl.

Those validate their arguments and the state they need now, then answer `not_available` and change nothing.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

from pdxsrv import files
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable, NotStarted
from pdxsrv.domain import commands
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.state import Task, Workspace
from pdxsrv.paths import confine
from pdxsrv.supervision import Supervision

def _not_built(what: str) -> NotAvailable:
    return NotAvailable(f"{what} is not available in this build of pdxsrv yet; nothing was changed")


class TaskJobHandler(APIHandler):
    """Shared lookups of the task routes."""

    async def task(self) -> tuple[Workspace, Task]:
        """The durable state and the task named by `tid`."""
        state = await self.store.durable_state()
        return state, commands.get_task(state, self.args["tid"])

    def task_path(self, task: Task) -> str:
        """The task's directory."""
        return files.task_dir(self.store.root, task.pid, task.id)

    def require_model(self, task: Task, epoch: int | None = None) -> str:
        """The task's best model directory (or that of `epoch`), or Conflict."""
        if epoch is not None:
            path = os.path.join(self.task_path(task), "output", f"epoch_{epoch}")
            if not os.path.isdir(path):
                saved = ", ".join(map(str, files.saved_epochs(self.task_path(task)))) or "none"
                raise Conflict(f"task {task.id} has no checkpoint of epoch {epoch}; saved epochs: {saved}")
            return path
        path = files.best_model_dir(self.task_path(task))
        if path is None:
            raise Conflict(f"task {task.id} has no trained model yet (output/best_model); train it first")
        return path

    def supervision(self) -> Supervision:
        """The supervisor link, or NotAvailable when the server runs without one."""
        if self.ctx.supervision is None:
            raise NotAvailable("this work runs as a job, and this server runs with --no-supervisor")
        return self.ctx.supervision

    async def wait_for(self, done: Callable[[Workspace], bool], timeout: float) -> Workspace:
        """Wait until `done(state)` holds (or the timeout passes); return the durable state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(self.store.state) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        return await self.store.durable_state()


class PruneHandler(TaskJobHandler):
    """GET the sensitivity analysis' status; POST start it; PUT stop it."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"no pruning analysis has run for task {task.id}; POST /project/task/prune starts one")

    async def post(self) -> None:
        _, task = await self.task()
        self.require_model(task)
        raise _not_built("pruning analysis")

    async def put(self) -> None:
        _, task = await self.task()
        raise Conflict(f"no pruning analysis is running for task {task.id}")


class ExportHandler(TaskJobHandler):
    """GET export status (or quantization log/result); POST export; PUT stop."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"task {task.id} has not been exported; POST /project/task/export starts an export")

    async def post(self) -> None:
        _, task = await self.task()
        for name in ("save_dir", "model_path"):
            if self.args[name] is not None:
                confine(self.args[name], self.ctx.roots, name)
        if self.args["save_dir"] is None:
            raise InvalidArgument("argument 'save_dir' is required: the directory to export the model to")
        if self.args["type"] != "lite":
            self.require_model(task)
        raise _not_built("export")

    async def put(self) -> None:
        _, task = await self.task()
        raise Conflict(f"no export is running for task {task.id}")


class VdlHandler(TaskJobHandler):
    """GET the URL of a VisualDL server for the task's logs."""

    async def get(self) -> None:
        _, task = await self.task()
        raise NotStarted(f"task {task.id} has no training logs yet (output/vdl_log); train it first")
