"""/model: pretrained models (a copy of a trained model, kept for new tasks) and exported-model records."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from pdxsrv import confined, files, limits, missing
from pdxsrv.api.base import APIHandler
from pdxsrv.api.render import exported_row, pretrained_row
from pdxsrv.api.spec import ArgumentError
from pdxsrv.domain import commands, model_records
from pdxsrv.domain.enums import TaskStatus
from pdxsrv.domain.errors import InvalidArgument, NotFound
from pdxsrv.domain.queries import in_order
from pdxsrv.paths import confine

HIDDEN_EXPORT_STATES = (TaskStatus.XEXPORTING, TaskStatus.XEXPORTFAIL)


class ModelHandler(APIHandler):
    """GET one model or all of a type; POST create; DELETE."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        mid, kind = self.args["mid"], self.args["type"]
        if mid is not None:
            model = state.pretrained_models.get(mid) or state.exported_models.get(mid)
            if model is None:
                raise NotFound(f"model {mid!r} does not exist; GET /model {{'type': 'pretrained'|'exported'}} lists them")
            problem = (missing.pretrained_problem(self.store.root, model) if mid in state.pretrained_models
                       else missing.exported_problem(self.store.root, model))
            self.ok(dataset_attr=model.dataset, task_params=limits.json_text(model.params),
                    eval_result=limits.json_text(model_records.eval_results(state, model)),
                    **({"message": problem} if problem else {}))
        elif kind == "pretrained":
            self.ok(pretrained_models=[_with_problem(pretrained_row(self.store.root, m),
                                                     missing.pretrained_problem(self.store.root, m))
                                       for m in in_order(state.pretrained_models)])
        elif kind == "exported":
            # Like the original, a record whose task is still exporting (or failed to) is not listed yet.
            rows = [_with_problem(exported_row(m), missing.exported_problem(self.store.root, m))
                    for m in in_order(state.exported_models)
                    if m.tid not in state.tasks or state.tasks[m.tid].status not in HIDDEN_EXPORT_STATES]
            self.ok(exported_models=rows)
        else:
            raise ArgumentError("give mid (one model) or type ('pretrained' or 'exported')", code="missing_argument")

    async def post(self) -> None:
        a = self.args
        for name in ("pid", "tid", "name"):
            if a[name] is None:
                raise ArgumentError(f"argument {name!r} is required", code="missing_argument")
        if a["type"] == "exported":
            if a["path"] is None or a["exported_type"] is None:
                raise ArgumentError("type 'exported' needs path and exported_type", code="missing_argument")
            path = confine(a["path"], self.ctx.roots)
            (record,) = await self.store.execute(
                commands.create_exported_model, a["pid"], a["tid"], a["name"], path, a["exported_type"]
            )
            os.makedirs(path, exist_ok=True)
            self.ok(emid=record.data["id"])
            return
        await self._create_pretrained()

    async def _create_pretrained(self) -> None:
        a, root = self.args, self.store.root
        state = await self.store.durable_state()
        commands.create_pretrained_model(state, a["pid"], a["tid"], a["name"])  # check before copying
        task = state.tasks[a["tid"]]
        lost = None if a["source_path"] else missing.missing_model(root, state, task)
        if lost is not None:
            raise lost
        source = a["source_path"] or files.best_model_dir(files.task_dir(root, task.pid, task.id))
        if source is None:
            raise InvalidArgument(f"task {task.id} has no trained model yet; give source_path or train it first")
        source = confine(source, self.ctx.roots, "source_path")
        if not os.path.isfile(os.path.join(source, "model.pdparams")):
            raise InvalidArgument(
                f"source_path {a['source_path'] or source!r} is not a saved model (a directory with model.pdparams)"
            )
        temp = os.path.join(root, "pretrain", f".incoming-{uuid.uuid4().hex}")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, _copy_model, source, temp, self.ctx.roots)
        except BaseException:
            files.remove_tree(temp)
            raise
        try:
            (record,) = await self.store.execute(
                commands.create_pretrained_model, a["pid"], a["tid"], a["name"], source, a["eval_results"]
            )
        except BaseException:
            files.remove_tree(temp)
            raise
        os.replace(temp, files.pretrained_dir(root, record.data["id"]))
        self.ok(pmid=record.data["id"])

    async def delete(self) -> None:
        kind = self.args["type"]
        key = "pmid" if kind == "pretrained" else "emid"
        mid = self.args[key]
        if mid is None:
            raise ArgumentError(f"argument {key!r} is required with type {kind!r}", code="missing_argument")
        if kind == "pretrained":
            await self.store.execute(commands.delete_pretrained_model, mid)
            files.remove_tree(files.pretrained_dir(self.store.root, mid))
        else:
            await self.store.execute(commands.delete_exported_model, mid)  # the exported files are left in place
        self.ok()


def _with_problem(row: dict[str, Any], problem: str | None) -> dict[str, Any]:
    """A model row, with `message` saying its files are missing when they are."""
    return {**row, "message": problem} if problem else row


def _copy_model(source: str, target: str, roots: tuple[str, ...]) -> None:
    """Copy a saved model directory, without the optimizer state (as the original did): every file really inside
    `roots` (a link out is refused, naming it; links are never copied as links). The weights are read, with the
    restricted unpickler, only when a training uses them."""
    confined.copy_tree(source, target, roots, skip=(".pdopt",))
