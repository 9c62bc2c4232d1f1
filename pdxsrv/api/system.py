"""/system: CPU and GPU facts, read live."""

from __future__ import annotations

import asyncio

from pdxsrv import system
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable


class SystemHandler(APIHandler):
    """GET machine_info or gpu_memory_size; DELETE (stop every job)."""

    async def get(self) -> None:
        loop = asyncio.get_running_loop()
        if self.args["type"] == "machine_info":
            self.ok(info=await loop.run_in_executor(None, system.machine_info))
        else:
            self.ok(gpu_mem_infos=await loop.run_in_executor(None, system.gpu_memory))

    async def delete(self) -> None:
        raise NotAvailable("stopping every job is not available in this build of pdxsrv yet (no jobs run yet)")
