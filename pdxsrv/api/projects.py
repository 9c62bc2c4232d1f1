"""/project."""

from __future__ import annotations

import os

from pdxsrv import files
from pdxsrv.api.base import APIHandler
from pdxsrv.api.render import project_attr
from pdxsrv.domain import commands
from pdxsrv.domain.errors import InvalidArgument
from pdxsrv.domain.queries import in_order, tasks_of


class ProjectHandler(APIHandler):
    """GET one (with its tasks) or all projects; POST create; DELETE (with its tasks)."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        root = self.store.root
        if self.args["id"] is not None:
            p = commands.get_project(state, self.args["id"])
            tasks = {t.id: {"status": int(t.status)} for t in tasks_of(state, p.id)}
            self.ok(attr={**project_attr(root, p), "tasks": tasks})
            return
        self.ok(projects=[{"id": p.id, "attr": project_attr(root, p)} for p in in_order(state.projects)])

    async def post(self) -> None:
        a = self.args
        if a["path"] is not None:
            raise InvalidArgument(
                "a project's directory cannot be chosen (argument 'path'); its files live in "
                f"{os.path.join(self.store.root, 'projects')}/<pid>: send name, desc and project_type only"
            )
        (record,) = await self.store.execute(commands.create_project, a["name"], a["desc"], a["project_type"])
        self.ok(pid=record.data["id"])

    async def delete(self) -> None:
        await self.store.execute(commands.delete_project, self.args["pid"])
        files.remove_tree(files.project_dir(self.store.root, self.args["pid"]))
        self.ok()
