"""/workspace: the workspace directory, and attributes of datasets, projects and tasks."""

from __future__ import annotations

from pdxsrv.api.base import APIHandler
from pdxsrv.api.render import ATTRS
from pdxsrv.api.spec import ArgumentError
from pdxsrv.domain import commands
from pdxsrv.domain.errors import InvalidArgument

LOOKUP = {"dataset": commands.get_dataset, "project": commands.get_project, "task": commands.get_task}


class WorkspaceHandler(APIHandler):
    """GET: dirname, or `attr` of one object; PUT (and POST, as the API doc's example uses): change attributes."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        struct = self.args["struct"]
        if struct is None:
            self.ok(dirname=self.store.root)
            return
        if self.args["id"] is None:
            raise ArgumentError(f"argument 'id' is required with struct {struct!r}", code="missing_argument")
        obj = LOOKUP[struct](state, self.args["id"])
        attrs = ATTRS[struct](self.store.root, obj, state)
        wanted = [k for k in (self.args["attr_list"] or list(attrs)) if k not in ("id", "struct")]
        unknown = [k for k in wanted if k not in attrs]
        if unknown:
            raise InvalidArgument(f"a {struct} has no attribute {unknown[0]!r}; it has: {', '.join(attrs)}")
        self.ok(attr={k: attrs[k] for k in wanted})

    async def put(self) -> None:
        await self.store.execute(commands.set_attributes, self.args["struct"], self.args["id"], self.args["attr_dict"])
        self.ok()

    post = put
