"""/system: CPU and GPU facts, read live; DELETE stops every job."""

from __future__ import annotations

import asyncio

from pdxsrv import system
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable
from pdxsrv.domain.jobs import ACTIVE
from supervisor.client import SupervisorError, SupervisorUnavailable

STOP_WAIT = 30.0  # how long DELETE waits for the stopped jobs to end before answering


class SystemHandler(APIHandler):
    """GET machine_info or gpu_memory_size; DELETE (stop every job)."""

    async def get(self) -> None:
        loop = asyncio.get_running_loop()
        if self.args["type"] == "machine_info":
            self.ok(info=await loop.run_in_executor(None, system.machine_info))
        else:
            self.ok(gpu_mem_infos=await loop.run_in_executor(None, system.gpu_memory))

    async def delete(self) -> None:
        """Stop every queued or running job as its own stop does (training saves what it can), then answer which."""
        state = await self.store.durable_state()
        active = sorted(job.id for job in state.jobs.values() if job.state in ACTIVE)
        if active and self.ctx.supervision is None:
            raise NotAvailable("this server runs with --no-supervisor and cannot stop jobs")
        for job in active:
            try:
                await self.ctx.supervision.client.stop(job)  # the job's own grace (training: 120 s)
            except SupervisorError:
                pass  # the supervisor no longer knows it: reconciling records it as lost
            except SupervisorUnavailable:
                raise NotAvailable(f"the job supervisor does not answer, so {job} and the jobs after it were not "
                                   "stopped; try again in a few seconds (pdxsrv restarts it)") from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT
        while any(self.store.state.jobs[j].state in ACTIVE for j in active) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        state = await self.store.durable_state()
        stopping = [j for j in active if state.jobs[j].state in ACTIVE]
        stopped = [j for j in active if j not in stopping]
        message = f"stopped {len(stopped)} job(s)" if active else "no job was running"
        if stopping:
            message += f"; {len(stopping)} still saving (they end within their grace period)"
        self.ok(stopped=stopped, stopping=stopping, jobs={j: state.jobs[j].state for j in active}, message=message)
