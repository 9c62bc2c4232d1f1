"""/dataset, /dataset/details, /dataset/split."""

from __future__ import annotations

import os

from pdxsrv import files
from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable
from pdxsrv.api.render import dataset_attr
from pdxsrv.domain import commands
from pdxsrv.domain.enums import ACTIVE_DATASET_STATUSES, DatasetStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.queries import in_order, projects_using
from pdxsrv.paths import confine

IMPORTED = (DatasetStatus.XCOPYDONE, DatasetStatus.XSPLITED)


class DatasetHandler(APIHandler):
    """GET one or all datasets; POST create; PUT import; DELETE."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        root = self.store.root
        if self.args["did"] is not None:
            d = commands.get_dataset(state, self.args["did"])
            pids = [p.id for p in projects_using(state, d.id)]
            self.ok(id=d.id, dataset_status=int(d.status), message=d.message,
                    attr={**dataset_attr(root, d), "pids": pids})
            return
        self.ok(datasets=[
            {"id": d.id, "attr": {**dataset_attr(root, d), "dataset_status": int(d.status), "message": d.message}}
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
        if dataset.status in ACTIVE_DATASET_STATUSES:
            raise Conflict(f"dataset {dataset.id} is already being imported")
        raise NotAvailable("importing datasets is not available in this build of pdxsrv yet; nothing was changed")

    async def delete(self) -> None:
        await self.store.execute(commands.delete_dataset, self.args["did"])
        files.remove_tree(files.dataset_dir(self.store.root, self.args["did"]))
        self.ok()


class DatasetDetailsHandler(APIHandler):
    """GET: the statistics of an imported dataset (None until it is imported)."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        dataset = commands.get_dataset(state, self.args["did"])
        if dataset.status not in IMPORTED:
            self.ok(details=None)
            return
        raise NotAvailable("dataset details are not available in this build of pdxsrv yet")


class DatasetSplitHandler(APIHandler):
    """PUT: split an imported dataset into train / val / test."""

    async def put(self) -> None:
        state = await self.store.durable_state()
        dataset = commands.get_dataset(state, self.args["did"])
        val, test = self.args["val_split"], self.args["test_split"]
        if not 0 < val < 1 or not 0 <= test < 1 or val + test >= 1:
            raise InvalidArgument(
                f"val_split {val} and test_split {test} must be fractions with 0 < val_split, 0 <= test_split "
                "and val_split + test_split < 1 (the rest is the training set)"
            )
        if dataset.status not in IMPORTED:
            raise Conflict(
                f"dataset {dataset.id} is not imported (status {dataset.status.name}); import it with PUT /dataset first"
            )
        raise NotAvailable("splitting datasets is not available in this build of pdxsrv yet; nothing was changed")
