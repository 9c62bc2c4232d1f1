"""/workspace."""

from __future__ import annotations

from pdxsrv.api.base import APIHandler


class WorkspaceHandler(APIHandler):
    """GET: the workspace directory (the web demo's connection test)."""

    async def get(self) -> None:
        await self.store.durable_state()
        self.ok(dirname=self.store.root)
