"""/project/task and /project/task/params."""

from __future__ import annotations

from typing import Any

from pdxsrv import files, missing
from pdxsrv.api.base import APIHandler
from pdxsrv.api.recommend import recommendation
from pdxsrv.api.render import task_row
from pdxsrv.domain import commands, train_schema
from pdxsrv.domain.errors import InvalidArgument
from pdxsrv.domain.queries import in_order, tasks_of


class TaskHandler(APIHandler):
    """GET one task's status (and resumability), or the tasks of a project, or all; POST create; DELETE."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        root = self.store.root
        if self.args["tid"] is not None:
            task = commands.get_task(state, self.args["tid"])
            project = state.projects.get(task.pid)
            message = missing.task_problem(root, state, task) or task.message
            answer = {"task_status": int(task.status), "message": message, "type": project.type if project else ""}
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
        a, state = self.args, await self.store.durable_state()
        train, project = a["train"] or {}, state.projects.get(a["pid"])
        recommended = None
        if not a["parent_id"] and project is not None and project.did in state.datasets:
            model = train_schema.model_named(project.type, train.get("model"))
            recommended = (await recommendation(state, project, model, None, self.ctx.weights,
                                                self.ctx.step_costs, unsplit_ok=True))["train"]
        (record,) = await self.store.execute(
            commands.create_task, a["pid"], train, a["desc"], a["parent_id"] or "", recommended
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


class TaskParamsHandler(APIHandler):
    """GET a task's parameters (what it trains with), or a project's recommended ones; POST a task's parameters
    (before training)."""

    async def get(self) -> None:
        state = await self.store.durable_state()
        if self.args["tid"] is not None:
            task = commands.get_task(state, self.args["tid"])
            self.ok(train=train_schema.effective(commands.get_project(state, task.pid).type, task.params))
            return
        if self.args["pid"] is None:
            raise InvalidArgument("give tid (a task's parameters) or pid (a project's recommended ones)")
        project = commands.get_project(state, self.args["pid"])
        self.ok(**await recommendation(state, project, self.args["model_type"], self.args["gpu_list"],
                                       self.ctx.weights, self.ctx.step_costs))

    async def post(self) -> None:
        await self.store.execute(commands.set_task_params, self.args["tid"], self.args["train"])
        self.ok()
