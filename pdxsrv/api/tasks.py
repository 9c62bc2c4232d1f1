"""/project/task and /project/task/params."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pdxsrv import files, system
from pdxsrv.api.base import APIHandler
from pdxsrv.api.render import task_row
from pdxsrv.domain import commands
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.params import choose_model, recommended_params
from pdxsrv.domain.queries import in_order, tasks_of


class TaskHandler(APIHandler):
    """GET one task's status (and resumability), or the tasks of a project, or all; POST create; DELETE."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        root = self.store.root
        if self.args["tid"] is not None:
            task = commands.get_task(state, self.args["tid"])
            project = state.projects.get(task.pid)
            answer = {"task_status": int(task.status), "message": task.message, "type": project.type if project else ""}
            if self.args["resume"] is not None:
                epochs = files.saved_epochs(files.task_dir(root, task.pid, task.id))
                last = epochs[-1] if epochs else -1
                num_epochs = whole_number(task.params.get("num_epochs"))
                answer["resumable"] = bool(epochs) and num_epochs is not None and last < num_epochs
                answer["max_saved_epochs"] = last
            self.ok(**answer)
            return
        pid = self.args["pid"]
        if pid is not None:
            commands.get_project(state, pid)
        tasks = in_order(state.tasks) if pid is None else tasks_of(state, pid)
        self.ok(tasks=[task_row(root, t, state) for t in tasks])

    async def post(self) -> None:
        a = self.args
        (record,) = await self.store.execute(
            commands.create_task, a["pid"], a["train"] or {}, a["desc"], a["parent_id"] or ""
        )
        self.ok(tid=record.data["id"])  # its directory is made by its first job

    async def delete(self) -> None:
        state = await self.store.durable_state()
        task = commands.get_task(state, self.args["tid"])
        await self.store.execute(commands.delete_task, task.id)
        if self.ctx.boards is not None:
            self.ctx.boards.stop(task.id)
        files.remove_tree(files.task_dir(self.store.root, task.pid, task.id))
        self.ok()


def whole_number(value: Any) -> int | None:
    """An int parameter that may have arrived as a string or float (the web demo sends strings)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def machine_facts(gpu_list: list[int] | None) -> tuple[list[int], list[int], tuple[int, int]]:
    """The GPUs to recommend for (default: GPU 0 if there is one, else the CPU), their free MB, and the CPU's
    (cores, free MB of RAM), read now."""
    if gpu_list is None:
        gpu_list = [0] if system.gpu_memory() else []
    return gpu_list, system.gpu_free_mb(gpu_list), system.cpu_capacity()


def local_weights(root: str, params: dict[str, Any]) -> dict[str, Any]:
    """Recommended parameters whose `pretrain_weights` keyword (IMAGENET...) is kept only when its weights are
    at `<workspace>/pretrain/<model>_<KEYWORD>.pdparams`: pdxsrv never downloads, so otherwise from scratch."""
    keyword = params.get("pretrain_weights")
    if isinstance(keyword, str) and not os.path.isfile(
        os.path.join(root, "pretrain", f"{params['model']}_{keyword.upper()}.pdparams")
    ):
        return {**params, "pretrain_weights": None}
    return params


class TaskParamsHandler(APIHandler):
    """GET a task's parameters, or a project's recommended ones; POST a task's parameters (before training)."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        if self.args["tid"] is not None:
            self.ok(train=commands.get_task(state, self.args["tid"]).params)
            return
        if self.args["pid"] is None:
            raise InvalidArgument("give tid (a task's parameters) or pid (a project's recommended ones)")
        project = commands.get_project(state, self.args["pid"])
        model = choose_model(project.type, self.args["model_type"])
        gpu_list, free_mb, cpu = await asyncio.get_running_loop().run_in_executor(None, machine_facts, self.args["gpu_list"])
        if not project.did:
            raise Conflict(f"project {project.id} has no dataset; bind one with PUT /workspace first")
        dataset = commands.get_dataset(state, project.did)
        if dataset.status != DatasetStatus.XSPLITED:
            raise Conflict(
                f"dataset {dataset.id} of project {project.id} is not split (status {dataset.status.name}); the "
                "recommended parameters depend on its training set and classes: import and split it first"
            )
        params = recommended_params(project.type, model, gpu_list, free_mb, dataset.train_num, dataset.num_classes, cpu)
        self.ok(train=local_weights(self.store.root, params))

    async def post(self) -> None:
        await self.store.execute(commands.set_task_params, self.args["tid"], self.args["train"])
        self.ok()
