"""Commands: pure `(state, args) -> [events]`, or a typed DomainError that changes nothing."""

from __future__ import annotations

from typing import Any, Mapping

from pdxsrv.domain import events as ev
from pdxsrv.domain import model_records, train_schema
from pdxsrv.domain.enums import ACTIVE_DATASET_STATUSES, ACTIVE_TASK_STATUSES, DatasetStatus, ProjectType, TaskStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument, NotFound
from pdxsrv.domain.ids import DATASET, EXPORTED_MODEL, PRETRAINED_MODEL, PROJECT, TASK, format_id
from pdxsrv.domain.queries import active_jobs, projects_using, tasks_of
from pdxsrv.domain.state import Dataset, Project, Task, Workspace

TYPES = tuple(t.name for t in ProjectType)
# What PUT /workspace may change; everything else (id, path, type, create_time...) is refused.
SETTABLE = {"dataset": ("name", "desc"), "project": ("name", "desc", "did"), "task": ("name", "desc")}


# -- lookups that raise the one message per kind -------------------------------------------------


def get_dataset(state: Workspace, did: str) -> Dataset:
    """The dataset `did`, or NotFound."""
    try:
        return state.datasets[did]
    except (KeyError, TypeError):
        raise NotFound(f"dataset {did!r} does not exist; GET /dataset lists the datasets") from None


def get_project(state: Workspace, pid: str) -> Project:
    """The project `pid`, or NotFound."""
    try:
        return state.projects[pid]
    except (KeyError, TypeError):
        raise NotFound(f"project {pid!r} does not exist; GET /project lists the projects") from None


def get_task(state: Workspace, tid: str) -> Task:
    """The task `tid`, or NotFound."""
    try:
        return state.tasks[tid]
    except (KeyError, TypeError):
        raise NotFound(f"task {tid!r} does not exist; GET /project/task lists the tasks") from None


def _check_type(value: str, argument: str) -> str:
    if value not in TYPES:
        raise InvalidArgument(f"{argument} {value!r} is not a known type; use one of: {', '.join(TYPES)}")
    return value


def _check_name(value: str, argument: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{argument} must be a non-empty string, got {value!r}")
    return value


# -- datasets ------------------------------------------------------------------------------------


def create_dataset(state: Workspace, name: str, desc: str, dataset_type: str) -> list[Any]:
    """POST /dataset."""
    _check_name(name)
    _check_type(dataset_type, "dataset_type")
    return [ev.DatasetCreated(format_id(DATASET, state.counters.dataset + 1), name, desc, dataset_type)]


def delete_dataset(state: Workspace, did: str) -> list[Any]:
    """DELETE /dataset: refused while a project uses it or an import runs."""
    dataset = get_dataset(state, did)
    users = [p.id for p in projects_using(state, did)]
    if users:
        raise Conflict(
            f"dataset {did} is used by {len(users)} project(s) ({', '.join(users)}); "
            "delete those projects or bind them to another dataset first"
        )
    if dataset.status in ACTIVE_DATASET_STATUSES:
        raise Conflict(f"dataset {did} is being imported; wait for the import to end first")
    return [ev.DatasetDeleted(did)]


IMPORTABLE = (DatasetStatus.XEMPTY, DatasetStatus.XCHECKFAIL, DatasetStatus.XCOPYFAIL)
IMPORTED = (DatasetStatus.XCOPYDONE, DatasetStatus.XSPLITED)


def next_job_id(state: Workspace, subject: str, kind: str) -> str:
    """A new job ID for `kind` work on `subject` (`D0001.import.2`); job IDs are never reused."""
    taken = sum(1 for job in state.jobs.values() if job.subject == subject and job.kind == kind)
    return f"{subject}.{kind}.{taken + 1}"


def start_import(state: Workspace, did: str, job: str, source: str, files_missing: bool = False) -> list[Any]:
    """PUT /dataset: an import job was started (only for an empty dataset, after a failed import, or when the
    imported dataset's files are missing: `files_missing`, which the handler found)."""
    dataset = get_dataset(state, did)
    if dataset.status not in IMPORTABLE and not (files_missing and dataset.status in IMPORTED):
        what = "being imported" if dataset.status in ACTIVE_DATASET_STATUSES else "already imported"
        raise Conflict(f"dataset {did} is {what} (status {dataset.status.name}); create a new dataset to import other files")
    return [ev.DatasetImportStarted(did, job, source)]


def split_dataset(state: Workspace, did: str, val_split: float, test_split: float, seed: int,
                  counts: tuple[int, int, int]) -> list[Any]:
    """PUT /dataset/split: record a split of an imported dataset (its lists follow from the seed)."""
    dataset = get_dataset(state, did)
    if dataset.status not in IMPORTED:
        raise Conflict(f"dataset {did} is not imported (status {dataset.status.name}); import it with PUT /dataset first")
    return [ev.DatasetSplit(did, val_split, test_split, seed, *counts)]


# -- projects ------------------------------------------------------------------------------------


def create_project(state: Workspace, name: str, desc: str, project_type: str) -> list[Any]:
    """POST /project."""
    _check_name(name)
    _check_type(project_type, "project_type")
    return [ev.ProjectCreated(format_id(PROJECT, state.counters.project + 1), name, desc, project_type)]


def delete_project(state: Workspace, pid: str) -> list[Any]:
    """DELETE /project: deletes its tasks too; refused while one of them has a running job."""
    get_project(state, pid)
    tasks = tasks_of(state, pid)
    for task in tasks:
        _check_idle(state, task, f"project {pid} cannot be deleted")
    return [ev.TaskDeleted(t.id) for t in tasks] + [ev.ProjectDeleted(pid)]


# -- tasks ---------------------------------------------------------------------------------------


def _check_idle(state: Workspace, task: Task, what: str) -> None:
    if task.status in ACTIVE_TASK_STATUSES:
        raise Conflict(f"{what}: task {task.id} is {task.status.name}; stop it first")
    running = active_jobs(state, task.id)
    if running:
        raise Conflict(f"{what}: job {running[0].id} of task {task.id} is {running[0].state}; stop it first")


def create_task(
    state: Workspace, pid: str, params: Mapping[str, Any], desc: str = "", parent_id: str = "",
    recommended: Mapping[str, Any] | None = None,
) -> list[Any]:
    """POST /project/task: the project must be bound to an existing dataset; `params` complete `recommended`
    (GET /project/task/params {pid}, computed by the handler) and are checked; a pruning task (`parent_id`)
    takes its parent's parameters."""
    project = get_project(state, pid)
    if not project.did:
        raise Conflict(
            f"project {pid} has no dataset; bind one first with PUT /workspace "
            f"{{'struct': 'project', 'id': '{pid}', 'attr_dict': {{'did': ...}}}}"
        )
    get_dataset(state, project.did)
    if parent_id:
        parent = get_task(state, parent_id)
        if parent.pid != pid:
            raise InvalidArgument(f"parent_id {parent_id!r} is a task of project {parent.pid}, not of {pid}")
        params = dict(parent.params)
    else:
        params = train_schema.complete(project.type, params, recommended or {})
    return [ev.TaskCreated(format_id(TASK, state.counters.task + 1), pid, desc, params, parent_id)]


def delete_task(state: Workspace, tid: str) -> list[Any]:
    """DELETE /project/task: refused while a job runs on it."""
    _check_idle(state, get_task(state, tid), f"task {tid} cannot be deleted")
    return [ev.TaskDeleted(tid)]


def set_task_params(state: Workspace, tid: str, params: Mapping[str, Any]) -> list[Any]:
    """POST /project/task/params: only before the task first trains; the given keys are merged into the stored
    ones and the whole is checked."""
    task = get_task(state, tid)
    if task.status != TaskStatus.XINIT:
        raise Conflict(f"task {tid} is {task.status.name}; parameters can be set only before it first trains")
    merged = train_schema.merge(get_project(state, task.pid).type, task.params, params)
    return [ev.TaskParamsSet(tid, merged)]


# -- jobs on tasks -------------------------------------------------------------------------------


def start_task_job(state: Workspace, tid: str, kind: str, job: str, resume_epoch: int | None = None) -> list[Any]:
    """A train/evaluate/predict/export/prune job was started on a task: refused while one of the same kind runs."""
    task = get_task(state, tid)
    for running in active_jobs(state, tid):
        if running.kind == kind and running.id != job:
            raise Conflict(f"task {tid} already has a {kind} job running ({running.id}); wait for it or stop it")
    if kind in ("train", "export", "prune") and task.status in ACTIVE_TASK_STATUSES and task.jobs.get(kind) != job:
        doing = {"train": "training again", "export": "exporting", "prune": "analysing it for pruning"}[kind]
        raise Conflict(f"task {tid} is {task.status.name}; wait for it or stop it before {doing}")
    return [ev.TaskJobStarted(tid, job, kind, resume_epoch)]


# -- PUT /workspace ------------------------------------------------------------------------------


def set_attributes(state: Workspace, struct: str, entity_id: str, changes: Mapping[str, Any]) -> list[Any]:
    """PUT /workspace: change safe attributes of a dataset, project or task."""
    if struct not in SETTABLE:
        raise InvalidArgument(f"struct {struct!r} is not one of: dataset, project, task")
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidArgument("attr_dict must be a non-empty JSON object of attributes to change")
    refused = sorted(k for k in changes if k not in SETTABLE[struct])
    if refused:
        raise InvalidArgument(
            f"attribute(s) {', '.join(map(repr, refused))} of a {struct} cannot be changed; "
            f"settable: {', '.join(SETTABLE[struct])}"
        )
    for key in ("name", "desc"):
        if key in changes and not isinstance(changes[key], str):
            raise InvalidArgument(f"{key} must be a string, got {changes[key]!r}")
    if "name" in changes:
        _check_name(changes["name"])
    if struct == "dataset":
        get_dataset(state, entity_id)
        return [ev.DatasetAttributesSet(entity_id, dict(changes))]
    if struct == "task":
        get_task(state, entity_id)
        return [ev.TaskAttributesSet(entity_id, dict(changes))]
    project = get_project(state, entity_id)
    did = changes.get("did", project.did)
    if did and did != project.did:
        dataset = get_dataset(state, did)
        if dataset.type != project.type:
            raise Conflict(f"dataset {did} is of type {dataset.type}; project {project.id} needs {project.type}")
        busy = [t for t in tasks_of(state, project.id) if t.status in ACTIVE_TASK_STATUSES]
        if busy:
            raise Conflict(f"project {project.id} has a running task ({busy[0].id}); stop it before rebinding")
    return [ev.ProjectAttributesSet(entity_id, dict(changes))]


# -- models --------------------------------------------------------------------------------------


def _model_source(state: Workspace, pid: str, tid: str, name: str) -> tuple[Project, Task, dict[str, Any]]:
    """Check a model's project and task; return them and what GET /model {mid} reports of the dataset."""
    _check_name(name)
    project = get_project(state, pid)
    task = get_task(state, tid)
    if task.pid != pid:
        raise InvalidArgument(f"task {tid} belongs to project {task.pid}, not {pid}")
    return project, task, model_records.dataset_attr(state, project.did)


def create_pretrained_model(
    state: Workspace, pid: str, tid: str, name: str, source_path: str = "", eval_results: Mapping | None = None
) -> list[Any]:
    """POST /model type=pretrained: register a task's model (its files are copied by the caller)."""
    project, task, dataset = _model_source(state, pid, tid, name)
    mid = format_id(PRETRAINED_MODEL, state.counters.pretrained_model + 1)
    return [
        ev.PretrainedModelCreated(
            mid, name, model_records.model_name(task.params), project.type, pid, tid, source_path,
            dict(eval_results or {}), dict(task.params), dataset,
        )
    ]


def create_exported_model(
    state: Workspace, pid: str, tid: str, name: str, path: str, exported_type: int
) -> list[Any]:
    """POST /model type=exported: record an exported model."""
    project, task, dataset = _model_source(state, pid, tid, name)
    if exported_type not in (0, 1, 2):
        raise InvalidArgument(f"exported_type must be 0 (inference), 1 (lite) or 2 (ONNX), got {exported_type!r}")
    mid = format_id(EXPORTED_MODEL, state.counters.exported_model + 1)
    return [
        ev.ExportedModelCreated(
            mid, name, model_records.model_name(task.params), project.type, pid, tid, path, exported_type, {},
            dict(task.params), dataset,
        )
    ]


def delete_pretrained_model(state: Workspace, mid: str) -> list[Any]:
    """DELETE /model type=pretrained."""
    if mid not in state.pretrained_models:
        raise NotFound(f"pretrained model {mid!r} does not exist; GET /model {{'type': 'pretrained'}} lists them")
    return [ev.PretrainedModelDeleted(mid)]


def delete_exported_model(state: Workspace, mid: str) -> list[Any]:
    """DELETE /model type=exported."""
    if mid not in state.exported_models:
        raise NotFound(f"exported model {mid!r} does not exist; GET /model {{'type': 'exported'}} lists them")
    return [ev.ExportedModelDeleted(mid)]
