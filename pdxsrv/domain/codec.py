"""Workspace state <-> plain msgpack-able data, for snapshots.

Snapshot data (SNAPSHOT_VERSION 3)::

    {"seq": int,
     "counters": {"dataset": int, "project": int, "task": int, "pretrained_model": int, "exported_model": int},
     "datasets" | "projects" | "tasks" | "pretrained_models" | "exported_models" | "jobs" | "demos":
         [[field values in dataclass field order], ...]}

A snapshot of another version is ignored (the log is folded from the start instead), so changing
a state dataclass only needs SNAPSHOT_VERSION bumped.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from immutables import Map

from pdxsrv.domain.enums import DatasetStatus, PretrainedModelStatus, TaskStatus
from pdxsrv.domain.state import Counters, Dataset, Demo, ExportedModel, Job, PretrainedModel, Project, Task, Workspace

SNAPSHOT_VERSION = 3  # 3: demos

COLLECTIONS: dict[str, type] = {
    "datasets": Dataset,
    "projects": Project,
    "tasks": Task,
    "pretrained_models": PretrainedModel,
    "exported_models": ExportedModel,
    "jobs": Job,
    "demos": Demo,
}
# Fields stored as ints that are enums in the state.
ENUM_FIELDS = {"status": {Dataset: DatasetStatus, Task: TaskStatus, PretrainedModel: PretrainedModelStatus}}


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def to_data(state: Workspace) -> dict[str, Any]:
    """Plain data of a state."""
    data: dict[str, Any] = {
        "seq": state.seq,
        "counters": {name: getattr(state.counters, name) for name in _names(Counters)},
    }
    for key, cls in COLLECTIONS.items():
        names = _names(cls)
        data[key] = [[getattr(obj, n) for n in names] for obj in getattr(state, key).values()]
    return data


def from_data(data: dict[str, Any]) -> Workspace:
    """The state that `to_data` saved."""
    collections = {}
    for key, cls in COLLECTIONS.items():
        names = _names(cls)
        status_enum = ENUM_FIELDS["status"].get(cls)
        status_at = names.index("status") if status_enum else -1
        items = []
        for row in data[key]:
            if status_enum:
                row = list(row)
                row[status_at] = status_enum(row[status_at])
            obj = cls(*row)
            items.append((obj.id, obj))
        collections[key] = Map(items)
    index: dict[str, dict[str, bool]] = {}
    for tid, task in collections["tasks"].items():
        index.setdefault(task.pid, {})[tid] = True
    project_tasks = Map({pid: Map(tids) for pid, tids in index.items()})
    return Workspace(seq=data["seq"], counters=Counters(**data["counters"]), project_tasks=project_tasks, **collections)
