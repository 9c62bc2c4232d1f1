"""The event catalog: every event type pdxsrv writes, with its version and fields.

An event is stored as an eventlog record ``{type, v, data}`` where ``data`` is the dataclass's
fields as a map. Types are ``<entity>.<what happened>``. To change an event's schema, bump its
VERSION and add an upcaster ``(type, old_v) -> (data -> data of old_v + 1)`` to UPCASTERS; records
already written are never rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar

from eventlog import Event, Record


@dataclass(frozen=True, slots=True)
class DatasetCreated:
    """A dataset was created (empty; import comes later)."""

    TYPE: ClassVar[str] = "dataset.created"
    VERSION: ClassVar[int] = 1
    id: str
    name: str
    desc: str
    type: str


@dataclass(frozen=True, slots=True)
class DatasetDeleted:
    """A dataset and its files were deleted."""

    TYPE: ClassVar[str] = "dataset.deleted"
    VERSION: ClassVar[int] = 1
    id: str


@dataclass(frozen=True, slots=True)
class DatasetAttributesSet:
    """Safe attributes of a dataset (name, desc) were changed."""

    TYPE: ClassVar[str] = "dataset.attributes_set"
    VERSION: ClassVar[int] = 1
    id: str
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DatasetImportStarted:
    """An import job was started for a dataset."""

    TYPE: ClassVar[str] = "dataset.import_started"
    VERSION: ClassVar[int] = 1
    id: str
    job: str
    source: str


@dataclass(frozen=True, slots=True)
class DatasetSplit:
    """A dataset was split (the lists follow from its imported files, the ratios and the seed)."""

    TYPE: ClassVar[str] = "dataset.split"
    VERSION: ClassVar[int] = 1
    id: str
    val_split: float
    test_split: float
    seed: int
    train_num: int
    val_num: int
    test_num: int


@dataclass(frozen=True, slots=True)
class ProjectCreated:
    """A project was created (bound to no dataset yet)."""

    TYPE: ClassVar[str] = "project.created"
    VERSION: ClassVar[int] = 1
    id: str
    name: str
    desc: str
    type: str


@dataclass(frozen=True, slots=True)
class ProjectDeleted:
    """A project was deleted (its tasks were deleted by events before this one)."""

    TYPE: ClassVar[str] = "project.deleted"
    VERSION: ClassVar[int] = 1
    id: str


@dataclass(frozen=True, slots=True)
class ProjectAttributesSet:
    """Safe attributes of a project (name, desc, did) were changed."""

    TYPE: ClassVar[str] = "project.attributes_set"
    VERSION: ClassVar[int] = 1
    id: str
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskCreated:
    """A task was created in a project with its training parameters."""

    TYPE: ClassVar[str] = "task.created"
    VERSION: ClassVar[int] = 1
    id: str
    pid: str
    desc: str
    params: dict[str, Any]
    parent_id: str = ""


@dataclass(frozen=True, slots=True)
class TaskDeleted:
    """A task and its files were deleted."""

    TYPE: ClassVar[str] = "task.deleted"
    VERSION: ClassVar[int] = 1
    id: str


@dataclass(frozen=True, slots=True)
class TaskAttributesSet:
    """Safe attributes of a task (name, desc) were changed."""

    TYPE: ClassVar[str] = "task.attributes_set"
    VERSION: ClassVar[int] = 1
    id: str
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskParamsSet:
    """A task's training parameters were replaced (only before it first trains)."""

    TYPE: ClassVar[str] = "task.params_set"
    VERSION: ClassVar[int] = 1
    id: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskJobStarted:
    """A job (train, evaluate, predict, ...) was started on a task; `resume_epoch` for a resumed training."""

    TYPE: ClassVar[str] = "task.job_started"
    VERSION: ClassVar[int] = 1
    id: str
    job: str
    kind: str
    resume_epoch: int | None = None


@dataclass(frozen=True, slots=True)
class PretrainedModelCreated:
    """A task's trained model was registered as a pretrained model."""

    TYPE: ClassVar[str] = "pretrained_model.created"
    VERSION: ClassVar[int] = 1
    id: str
    name: str
    model: str
    type: str
    pid: str
    tid: str
    source_path: str = ""
    eval_results: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PretrainedModelDeleted:
    """A pretrained model and its files were deleted."""

    TYPE: ClassVar[str] = "pretrained_model.deleted"
    VERSION: ClassVar[int] = 1
    id: str


@dataclass(frozen=True, slots=True)
class ExportedModelCreated:
    """An exported model was registered."""

    TYPE: ClassVar[str] = "exported_model.created"
    VERSION: ClassVar[int] = 1
    id: str
    name: str
    model: str
    type: str
    pid: str
    tid: str
    path: str
    exported_type: int
    eval_results: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExportedModelDeleted:
    """An exported model record was deleted."""

    TYPE: ClassVar[str] = "exported_model.deleted"
    VERSION: ClassVar[int] = 1
    id: str


@dataclass(frozen=True, slots=True)
class JobSpawned:
    """A job (a supervised process) was started, or first seen, for a task or dataset."""

    TYPE: ClassVar[str] = "job.spawned"
    VERSION: ClassVar[int] = 1
    id: str
    kind: str
    subject: str
    gpus: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobStateChanged:
    """The supervisor reported a new state of a job (queued, running, stopping, exited, failed, killed, lost)."""

    TYPE: ClassVar[str] = "job.state_changed"
    VERSION: ClassVar[int] = 1
    id: str
    subject: str
    state: str
    pid: int = 0
    exit_code: int | None = None
    signal: int | None = None
    message: str = ""
    err_tail: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobReported:
    """A job's journal record(s) up to journal seq `seq`: one per metric/log/done, progress coalesced."""

    TYPE: ClassVar[str] = "job.reported"
    VERSION: ClassVar[int] = 1
    id: str
    subject: str
    seq: int
    kind: str  # progress | metric | log | done
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoPreparationStarted:
    """A job was started to prepare a project type's demo (from `mirror`, or generated when it is empty)."""

    TYPE: ClassVar[str] = "demo.preparation_started"
    VERSION: ClassVar[int] = 1
    type: str
    job: str
    mirror: str = ""


@dataclass(frozen=True, slots=True)
class DemoLoaded:
    """A prepared demo was loaded: its dataset, project and task were created (by the events just before)."""

    TYPE: ClassVar[str] = "demo.loaded"
    VERSION: ClassVar[int] = 1
    type: str
    did: str
    pid: str
    tid: str


CATALOG: dict[str, type] = {
    cls.TYPE: cls
    for cls in (
        DatasetCreated,
        DatasetDeleted,
        DatasetAttributesSet,
        DatasetImportStarted,
        DatasetSplit,
        ProjectCreated,
        ProjectDeleted,
        ProjectAttributesSet,
        TaskCreated,
        TaskDeleted,
        TaskAttributesSet,
        TaskParamsSet,
        TaskJobStarted,
        PretrainedModelCreated,
        PretrainedModelDeleted,
        ExportedModelCreated,
        ExportedModelDeleted,
        JobSpawned,
        JobStateChanged,
        JobReported,
        DemoPreparationStarted,
        DemoLoaded,
    )
}

UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class UnknownEvent(ValueError):
    """A record whose type or version this build does not know (written by a newer pdxsrv?)."""


def to_log_event(event: Any) -> Event:
    """Turn a domain event into what the log stores."""
    return Event(event.TYPE, {f.name: getattr(event, f.name) for f in fields(event)}, event.VERSION)


def from_record(record: Record) -> Any:
    """Turn a stored record back into its domain event, upcasting old versions."""
    cls = CATALOG.get(record.type)
    if cls is None:
        raise UnknownEvent(f"seq {record.seq}: unknown event type {record.type!r}")
    data, v = record.data, record.v
    while v < cls.VERSION:
        upcast = UPCASTERS.get((record.type, v))
        if upcast is None:
            raise UnknownEvent(f"seq {record.seq}: no upcaster for {record.type!r} v{v}")
        data, v = upcast(data), v + 1
    if v != cls.VERSION:
        raise UnknownEvent(f"seq {record.seq}: {record.type!r} v{v} is newer than this pdxsrv (v{cls.VERSION})")
    return cls(**data)
