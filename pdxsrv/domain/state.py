"""Workspace state: frozen dataclasses in persistent maps, produced only by folding events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from immutables import Map

from pdxsrv.domain.enums import DatasetStatus, PretrainedModelStatus, TaskStatus


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset; its files live in `<workspace>/datasets/<id>`."""

    id: str
    name: str
    desc: str
    type: str
    created: float
    status: DatasetStatus = DatasetStatus.XEMPTY
    message: str = ""
    train_num: int = 0  # set by the split: training images
    num_classes: int = 0  # set by the import: labels
    progress: dict[str, Any] = field(default_factory=dict)  # the import job's latest progress
    summary: dict[str, Any] = field(default_factory=dict)  # what the import found (labels, images, bands)
    split: dict[str, Any] = field(default_factory=dict)  # val_split, test_split, seed of the last split


@dataclass(frozen=True, slots=True)
class Project:
    """A project of one type, bound to at most one dataset (`did`)."""

    id: str
    name: str
    desc: str
    type: str
    created: float
    did: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    """A training task of a project; files in `<workspace>/projects/<pid>/<id>`."""

    id: str
    pid: str
    desc: str
    created: float
    params: dict[str, Any]
    parent_id: str = ""
    name: str = ""
    status: TaskStatus = TaskStatus.XINIT
    message: str = ""
    jobs: dict[str, str] = field(default_factory=dict)  # job kind -> the task's latest job of that kind
    evals: dict[str, dict[str, Any]] = field(default_factory=dict)  # str(epoch) -> metrics of its evaluation in training


@dataclass(frozen=True, slots=True)
class PretrainedModel:
    """A trained model kept as a starting point for new tasks."""

    id: str
    name: str
    model: str
    type: str
    pid: str
    tid: str
    created: float
    source_path: str = ""
    eval_results: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    status: PretrainedModelStatus = PretrainedModelStatus.XPSAVEDONE


@dataclass(frozen=True, slots=True)
class ExportedModel:
    """A record of an exported model."""

    id: str
    name: str
    model: str
    type: str
    pid: str
    tid: str
    created: float
    path: str
    exported_type: int
    eval_results: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    """A supervised process working on a task or dataset, as far as its reports have reached the log."""

    id: str
    kind: str
    subject: str
    created: float
    gpus: list[int] = field(default_factory=list)
    state: str = "queued"
    pid: int = 0
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""
    err_tail: list[str] = field(default_factory=list)
    started: float = 0.0  # when it began running
    ended: float = 0.0  # when it reached a terminal state
    journal_seq: int = 0  # the last journal record folded in (what a replay starts after)
    progress: dict[str, Any] = field(default_factory=dict)  # the latest progress report
    last_metric: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)  # what done() reported


@dataclass(frozen=True, slots=True)
class Demo:
    """A project type's demo (`id`: the type's name): its latest preparation job and what its last load made."""

    id: str
    job: str = ""
    mirror: str = ""  # where the latest preparation fetched from ("" = the generators)
    did: str = ""  # what the last load created
    pid: str = ""
    tid: str = ""


@dataclass(frozen=True, slots=True)
class Counters:
    """The highest number ever used per ID prefix; IDs are never reused."""

    dataset: int = 0
    project: int = 0
    task: int = 0
    pretrained_model: int = 0
    exported_model: int = 0


@dataclass(frozen=True, slots=True)
class Workspace:
    """Everything the API reads; `seq` is the last event folded in."""

    seq: int = 0
    counters: Counters = Counters()
    datasets: Map = Map()
    projects: Map = Map()
    tasks: Map = Map()
    pretrained_models: Map = Map()
    exported_models: Map = Map()
    jobs: Map = Map()
    demos: Map = Map()  # project type name -> Demo
    project_tasks: Map = Map()  # derived index: pid -> Map(tid -> True)


EMPTY = Workspace()

T = TypeVar("T")


def evolve(obj: T, **changes: Any) -> T:
    """`dataclasses.replace` for these frozen, slotted dataclasses, without its per-call introspection."""
    cls = type(obj)
    unknown = changes.keys() - cls.__dataclass_fields__.keys()
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    new = object.__new__(cls)
    for name in cls.__slots__:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new
