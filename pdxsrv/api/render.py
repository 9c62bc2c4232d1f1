"""Entities as the original's response dicts (key names and enum integers are the wire contract)."""

from __future__ import annotations

import functools
import time
from typing import Any

from pdxsrv import files
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.domain.state import Dataset, ExportedModel, PretrainedModel, Project, Task, Workspace


def create_time(ts: float) -> str:
    """The original's `create_time` format (local time)."""
    return _second(int(ts))


@functools.lru_cache(maxsize=4096)
def _second(second: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))


def dataset_attr(root: str, d: Dataset) -> dict[str, Any]:
    """A dataset's `attr`."""
    return {"type": d.type, "id": d.id, "name": d.name, "path": files.dataset_dir(root, d.id), "desc": d.desc,
            "create_time": create_time(d.created)}


def dataset_message(d: Dataset) -> Any:
    """`message` of a dataset: the import's progress while it runs (a dict while copying, as the original)."""
    progress = d.progress
    if d.status == DatasetStatus.XCOPYING and progress.get("total"):
        return {"percent": progress["done"] / progress["total"], "done": progress["done"], "total": progress["total"]}
    if d.status == DatasetStatus.XCHECKING and progress.get("total"):
        return f"checked {progress['done']} of {progress['total']} files"
    return d.message


def project_attr(root: str, p: Project) -> dict[str, Any]:
    """A project's `attr`."""
    return {"id": p.id, "name": p.name, "desc": p.desc, "type": p.type, "did": p.did,
            "path": files.project_dir(root, p.id), "create_time": create_time(p.created)}


def task_attr(root: str, t: Task, state: Workspace) -> dict[str, Any]:
    """A task's attributes (`GET /project/task` list rows add `status` and `type`)."""
    return {"id": t.id, "name": t.name, "desc": t.desc, "pid": t.pid, "path": files.task_dir(root, t.pid, t.id),
            "create_time": create_time(t.created), "parent_id": t.parent_id}


def task_row(root: str, t: Task, state: Workspace) -> dict[str, Any]:
    """A row of the task list."""
    project = state.projects.get(t.pid)
    return {**task_attr(root, t, state), "status": int(t.status), "type": project.type if project else ""}


def pretrained_row(root: str, m: PretrainedModel) -> dict[str, Any]:
    """A row of `pretrained_models`."""
    return {"id": m.id, "name": m.name, "model": m.model, "type": m.type, "pid": m.pid, "tid": m.tid,
            "create_time": create_time(m.created), "path": files.pretrained_dir(root, m.id)}


def exported_row(m: ExportedModel) -> dict[str, Any]:
    """A row of `exported_models`."""
    return {"id": m.id, "name": m.name, "model": m.model, "type": m.type, "pid": m.pid, "tid": m.tid,
            "create_time": create_time(m.created), "path": m.path, "exported_type": m.exported_type}


ATTRS = {
    "dataset": lambda root, obj, state: {**dataset_attr(root, obj), "status": int(obj.status)},
    "project": lambda root, obj, state: project_attr(root, obj),
    "task": task_attr,
}
