"""/dataset, /dataset/details, /dataset/split."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pdxsrv import files, missing
from pdxsrv.datasets import details
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable
from pdxsrv.api.render import dataset_attr, dataset_message
from pdxsrv.domain import commands
from pdxsrv.domain.commands import IMPORTED
from pdxsrv.domain.enums import ACTIVE_DATASET_STATUSES
from pdxsrv.domain.jobs import ACTIVE as ACTIVE_JOBS
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.queries import in_order, projects_using
from pdxsrv.domain.state import Dataset
from pdxsrv.paths import confine

STOP_GRACE = 5.0  # seconds an import job gets to clean up after SIGTERM


class DatasetHandler(APIHandler):
    """GET one or all datasets; POST create; PUT import; DELETE."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        root = self.store.root
        if self.args["did"] is not None:
            d = commands.get_dataset(state, self.args["did"])
            pids = [p.id for p in projects_using(state, d.id)]
            self.ok(id=d.id, dataset_status=int(d.status), message=missing.dataset_problem(root, d) or dataset_message(d),
                    attr={**dataset_attr(root, d), "pids": pids})
            return
        self.ok(datasets=[
            {"id": d.id, "attr": {**dataset_attr(root, d), "dataset_status": int(d.status),
                                          "message": missing.dataset_problem(root, d) or dataset_message(d)}}
            for d in in_order(state.datasets)
        ])

    async def post(self) -> None:
        a = self.args
        (record,) = await self.store.execute(commands.create_dataset, a["name"], a["desc"], a["dataset_type"])
        self.ok(did=record.data["id"])  # its directory is made by the import

    async def put(self) -> None:
        state = await self.store.durable_state()
        dataset = commands.get_dataset(state, self.args["did"])
        source = confine(self.args["path"], self.ctx.roots)
        if not os.path.isdir(source):
            raise InvalidArgument(f"path {self.args['path']!r} is not a directory; give the dataset's folder")
        job = commands.next_job_id(state, dataset.id, "import")
        lost = missing.dataset_problem(self.store.root, dataset) is not None  # its files are gone: import again
        commands.start_import(state, dataset.id, job, source, files_missing=lost)  # refuses before anything starts
        if self.ctx.supervision is None:
            raise NotAvailable("importing runs as a job, and this server runs with --no-supervisor")
        target = files.dataset_dir(self.store.root, dataset.id)
        if lost:
            files.remove_tree(target)  # what is left of the lost files
        await self.ctx.supervision.spawn(job, "import", {"dataset_type": dataset.type, "source": source,
                                                         "target": target})
        await self.store.execute(commands.start_import, dataset.id, job, source, files_missing=lost)
        self.ok()

    async def delete(self) -> None:
        state = await self.store.durable_state()
        dataset = commands.get_dataset(state, self.args["did"])
        if dataset.status in ACTIVE_DATASET_STATUSES and self.ctx.supervision is not None:
            await self._stop_import(dataset.id)
        await self.store.execute(commands.delete_dataset, dataset.id)
        target = files.dataset_dir(self.store.root, dataset.id)
        files.remove_tree(target)
        files.remove_tree(f"{target}.incoming")
        self.ok()

    async def _stop_import(self, did: str) -> None:
        """Stop the dataset's import job and wait until its end is recorded (the job removes its partial copy)."""
        state = self.store.state
        for job in state.jobs.values():
            if job.subject == did and job.kind == "import" and job.state in ACTIVE_JOBS:
                await self.ctx.supervision.client.stop(job.id, grace=STOP_GRACE)
        deadline = asyncio.get_running_loop().time() + STOP_GRACE + 10
        while self.store.state.datasets[did].status in ACTIVE_DATASET_STATUSES:
            if asyncio.get_running_loop().time() > deadline:
                raise Conflict(f"the import of dataset {did} did not stop in time; try again")
            await asyncio.sleep(0.1)


class DatasetDetailsHandler(APIHandler):
    """GET: the statistics and lists of an imported dataset (None until it is imported)."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        dataset = commands.get_dataset(state, self.args["did"])
        if dataset.status not in IMPORTED:
            self.ok(details=None)
            return
        missing.require_dataset(self.store.root, dataset)
        self.ok(details=await asyncio.get_running_loop().run_in_executor(None, _details_of, self.store.root, dataset))


def _details_of(root: str, dataset: Dataset) -> dict[str, Any]:
    """The dataset's details, with the lists of its recorded split (if any)."""
    return details.resolved(files.dataset_dir(root, dataset.id), dataset.type, dataset.split)


class DatasetSplitHandler(APIHandler):
    """PUT: split an imported dataset into train / val / test."""

    async def put(self) -> None:
        state = await self.store.durable_state()
        dataset = commands.get_dataset(state, self.args["did"])
        val, test, seed = self.args["val_split"], self.args["test_split"], self.args["seed"]
        commands.split_dataset(state, dataset.id, val, test, seed, (0, 0, 0))  # refuses before reading files
        missing.require_dataset(self.store.root, dataset)
        found = await asyncio.get_running_loop().run_in_executor(
            None, details.load, files.dataset_dir(self.store.root, dataset.id))
        parts = details.split_lists(found, dataset.type, val, test, seed)
        counts = (len(parts["train"]), len(parts["val"]), len(parts["test"]))
        await self.store.execute(commands.split_dataset, dataset.id, val, test, seed, counts)
        self.ok()
