"""/demo: prepare a project type's demo (a job: from the mirror, else generated), load it, cancel.

Files: `<workspace>/demo_datasets/<type>/` (pdxsrv.jobs.demo). Status: pdxsrv.domain.demos.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pdxsrv import files, machine_costs, missing
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable
from pdxsrv.api.recommend import machine_facts
from pdxsrv.datasets.demo_data import DemoFileError, params_path, read_params
from pdxsrv.domain import commands, demos
from pdxsrv.domain.enums import DownloadStatus
from pdxsrv.domain.errors import Conflict, DomainError, InvalidArgument
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.domain.params import choose_model
from pdxsrv.domain.recipes import Facts, recommend
from pdxsrv.domain.queries import active_jobs
from pdxsrv.supervision import Supervision
from supervisor.client import SupervisorError, SupervisorUnavailable

STOP_GRACE = 5.0  # seconds a preparation or import gets to clean up after SIGTERM
STOP_WAIT = 20.0
DEVICE_KEYS = ("use_gpu", "cuda_visible_devices", "gpu_list")  # the machine's facts decide these, not the archive


class SupervisorDown(DomainError):
    """The job supervisor did not answer; what the request began was undone."""

    code = "supervisor_unavailable"


def demo_folder(root: str, prj_type: str) -> str:
    """`<workspace>/demo_datasets/<type>`."""
    return os.path.join(root, "demo_datasets", prj_type)


def task_params(prj_type: str, train_params: dict[str, Any], counts: dict[str, Any],
                step_costs: str | None) -> dict[str, Any]:
    """The from-scratch recommendation for this machine (the demos' values are tuned from scratch; `step_costs`: the
    machine's step-cost file), overridden by the demo's own (device keys excepted)."""
    try:
        model = choose_model(prj_type, train_params.get("model"))
    except InvalidArgument as exc:
        raise InvalidArgument(f"the demo's train_params cannot be used: {exc.message}") from None
    gpu_list, free_mb, cpu = machine_facts(None)
    num_train = int(counts.get("train_num") or 2)
    facts = Facts(gpu_list, free_mb, cpu, num_train, int(counts.get("val_num") or num_train),
                  int(counts.get("num_classes") or 1), costs=machine_costs.load(step_costs))
    base = recommend(prj_type, model, facts, lambda params: False)["train"]
    return {**base, **{k: v for k, v in train_params.items() if k not in DEVICE_KEYS}}


class DemoHandler(APIHandler):
    """GET preparation status; POST download (prepare) or load; PUT cancel."""

    def supervision(self) -> Supervision:
        """The supervisor link, or NotAvailable."""
        if self.ctx.supervision is None:
            raise NotAvailable("demos are prepared and imported by jobs, and this server runs with --no-supervisor")
        return self.ctx.supervision

    async def get(self) -> None:
        prj_type = demos.project_type(self.args["prj_type"])
        prep = demos.preparation(await self.store.durable_state(), prj_type)
        status = None if prep.status is None else int(prep.status)
        message = prep.message
        if prep.status == DownloadStatus.XDDECOMPRESSED and not os.path.isfile(
                params_path(os.path.join(demo_folder(self.store.root, prj_type), str(prep.result.get("name"))),
                            str(prep.result.get("name")))):
            reason = missing.why(self.store.root, demos.subject(prj_type), "its folder is gone")
            message = f"its files are missing ({reason}): download it again (POST /demo {{type: download}})"
        self.ok(attr={"status": status, "progress": prep.progress, "message": message})

    async def post(self) -> None:
        prj_type = demos.project_type(self.args["prj_type"])
        if self.args["type"] == "download":
            await self._download(prj_type)
        else:
            await self._load(prj_type)

    async def _download(self, prj_type: str) -> None:
        state = await self.store.durable_state()
        prep, mirror = demos.preparation(state, prj_type), self.ctx.demo_mirror or ""
        folder = demo_folder(self.store.root, prj_type)
        if prep.status == DownloadStatus.XDDECOMPRESSED and (not mirror or prep.result.get("source") == "mirror") \
                and os.path.isfile(params_path(os.path.join(folder, prep.result["name"]), prep.result["name"])):
            self.ok()  # prepared already: loading it needs nothing more
            return
        job = commands.next_job_id(state, demos.subject(prj_type), demos.JOB_KIND)
        demos.start_preparation(state, prj_type, job, mirror)  # refuses before anything starts
        await self.supervision().spawn(job, demos.JOB_KIND, {
            "prj_type": prj_type, "archive": demos.ARCHIVES[prj_type], "folder": folder, "mirror": mirror or None,
        }, grace=STOP_GRACE)
        await self.store.execute(demos.start_preparation, prj_type, job, mirror)
        self.ok()

    async def _load(self, prj_type: str) -> None:
        state = await self.store.durable_state()
        prep = demos.ready(state, prj_type)
        name = prep.result["name"]
        folder = os.path.join(demo_folder(self.store.root, prj_type), name)
        loop = asyncio.get_running_loop()
        try:
            doc = await loop.run_in_executor(None, read_params, folder, name, prj_type)
        except DemoFileError as exc:
            raise Conflict(f"the prepared {prj_type} demo cannot be loaded: {exc}") from None
        dataset_info, project_info = doc["dataset_info"], doc["project_info"]
        params = await loop.run_in_executor(None, task_params, prj_type, doc["train_params"],
                                            prep.result, self.ctx.step_costs)
        supervision = self.supervision()
        taken = demos.name_taken(self.store.state, dataset_info["name"], project_info["name"])
        if taken:
            self.ok(loading_status=taken)
            return
        records = await self.store.execute(demos.load, prj_type, dataset_info, project_info, params)
        loaded = records[-1].data
        did = loaded["did"]
        job = commands.next_job_id(self.store.state, did, "import")
        try:
            await supervision.spawn(job, "import", {"dataset_type": prj_type, "source": folder,
                                                    "target": files.dataset_dir(self.store.root, did)})
        except (SupervisorUnavailable, SupervisorError) as exc:
            await self.store.execute(demos.unload, prj_type)
            raise SupervisorDown(f"the job supervisor did not start the import ({exc}); nothing was loaded, "
                                 "try again") from None
        await self.store.execute(commands.start_import, did, job, folder)
        self.ok(did=did, pid=loaded["pid"], tid=loaded["tid"])

    async def put(self) -> None:
        prj_type = demos.project_type(self.args["prj_type"])
        state = await self.store.durable_state()
        did = demos.pending_load(state, prj_type)
        running = active_jobs(state, demos.subject(prj_type)) + (active_jobs(state, did) if did else [])
        if not running and did is None:
            raise Conflict(f"nothing to cancel: the {prj_type} demo is not being prepared, and no load of it is "
                           "waiting for its import")
        if running:
            supervision = self.supervision()
            for job in running:
                await supervision.client.stop(job.id, grace=STOP_GRACE)
            ids = [job.id for job in running]
            deadline = asyncio.get_running_loop().time() + STOP_GRACE + STOP_WAIT
            while any(self.store.state.jobs[j].state in ACTIVE for j in ids):
                if asyncio.get_running_loop().time() > deadline:
                    raise Conflict(f"the {prj_type} demo's jobs did not stop in time; try again")
                await asyncio.sleep(0.1)
        if did is not None:
            for record in await self.store.execute(demos.unload, prj_type):
                if record.type == "project.deleted":
                    files.remove_tree(files.project_dir(self.store.root, record.data["id"]))
                elif record.type == "dataset.deleted":
                    files.remove_tree(files.dataset_dir(self.store.root, record.data["id"]))
                    files.remove_tree(f"{files.dataset_dir(self.store.root, record.data['id'])}.incoming")
        self.ok()
