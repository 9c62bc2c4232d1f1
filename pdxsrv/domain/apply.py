"""The fold: `apply(state, record) -> state`, one pure function per event type."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from immutables import Map

from eventlog import Record
from pdxsrv.domain import dataset_jobs, task_jobs
from pdxsrv.domain import events as ev
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.domain.ids import parse_id
from pdxsrv.domain.jobs import TERMINAL
from pdxsrv.domain.state import (
    EMPTY,
    Counters,
    Dataset,
    Demo,
    ExportedModel,
    Job,
    PretrainedModel,
    Project,
    Task,
    Workspace,
    evolve,
)


def _bump(counters: Counters, name: str, entity_id: str) -> Counters:
    parsed = parse_id(entity_id)
    number = parsed[1] if parsed else 0
    return evolve(counters, **{name: max(getattr(counters, name), number)}) if number else counters


def _dataset_created(s: Workspace, e: ev.DatasetCreated, ts: float) -> Workspace:
    dataset = Dataset(e.id, e.name, e.desc, e.type, ts)
    return evolve(s, datasets=s.datasets.set(e.id, dataset), counters=_bump(s.counters, "dataset", e.id))


def _dataset_deleted(s: Workspace, e: ev.DatasetDeleted, ts: float) -> Workspace:
    return evolve(s, datasets=s.datasets.delete(e.id))


def _dataset_attributes_set(s: Workspace, e: ev.DatasetAttributesSet, ts: float) -> Workspace:
    return evolve(s, datasets=s.datasets.set(e.id, evolve(s.datasets[e.id], **e.changes)))


def _on_record(s: Workspace, job: str, kind: str, subject: str, ts: float) -> Workspace:
    """A started job is on record from its start: if the supervisor never reports it, reconciling marks it lost
    (a subject pointing at a job nobody knows would stay busy for ever)."""
    return s if job in s.jobs else evolve(s, jobs=s.jobs.set(job, Job(job, kind, subject, ts)))


def _dataset_import_started(s: Workspace, e: ev.DatasetImportStarted, ts: float) -> Workspace:
    dataset = evolve(s.datasets[e.id], status=DatasetStatus.XCHECKING, message="", progress={}, summary={}, split={})
    return evolve(_on_record(s, e.job, "import", e.id, ts), datasets=s.datasets.set(e.id, dataset))


def _dataset_split(s: Workspace, e: ev.DatasetSplit, ts: float) -> Workspace:
    split = {"val_split": e.val_split, "test_split": e.test_split, "seed": e.seed,
             "train_num": e.train_num, "val_num": e.val_num, "test_num": e.test_num}
    dataset = evolve(s.datasets[e.id], status=DatasetStatus.XSPLITED, train_num=e.train_num, split=split)
    return evolve(s, datasets=s.datasets.set(e.id, dataset))


def _project_created(s: Workspace, e: ev.ProjectCreated, ts: float) -> Workspace:
    project = Project(e.id, e.name, e.desc, e.type, ts)
    return evolve(s, projects=s.projects.set(e.id, project), counters=_bump(s.counters, "project", e.id))


def _project_deleted(s: Workspace, e: ev.ProjectDeleted, ts: float) -> Workspace:
    index = s.project_tasks.delete(e.id) if e.id in s.project_tasks else s.project_tasks
    return evolve(s, projects=s.projects.delete(e.id), project_tasks=index)


def _project_attributes_set(s: Workspace, e: ev.ProjectAttributesSet, ts: float) -> Workspace:
    return evolve(s, projects=s.projects.set(e.id, evolve(s.projects[e.id], **e.changes)))


def _task_created(s: Workspace, e: ev.TaskCreated, ts: float) -> Workspace:
    task = Task(e.id, e.pid, e.desc, ts, e.params, e.parent_id)
    index = s.project_tasks.set(e.pid, s.project_tasks.get(e.pid, Map()).set(e.id, True))
    return evolve(s, tasks=s.tasks.set(e.id, task), counters=_bump(s.counters, "task", e.id), project_tasks=index)


def _task_deleted(s: Workspace, e: ev.TaskDeleted, ts: float) -> Workspace:
    pid = s.tasks[e.id].pid
    remaining = s.project_tasks[pid].delete(e.id)
    index = s.project_tasks.set(pid, remaining) if remaining else s.project_tasks.delete(pid)
    return evolve(s, tasks=s.tasks.delete(e.id), project_tasks=index)


def _task_attributes_set(s: Workspace, e: ev.TaskAttributesSet, ts: float) -> Workspace:
    return evolve(s, tasks=s.tasks.set(e.id, evolve(s.tasks[e.id], **e.changes)))


def _task_params_set(s: Workspace, e: ev.TaskParamsSet, ts: float) -> Workspace:
    return evolve(s, tasks=s.tasks.set(e.id, evolve(s.tasks[e.id], params=e.params)))


def _task_job_started(s: Workspace, e: ev.TaskJobStarted, ts: float) -> Workspace:
    task = task_jobs.started(s.tasks[e.id], e.job, e.kind, e.resume_epoch)
    if e.job in s.jobs:  # the supervisor's account of the job came first (it may even have ended)
        task = task_jobs.after_job(task, s.jobs[e.job], s.jobs)
    return evolve(_on_record(s, e.job, e.kind, e.id, ts), tasks=s.tasks.set(e.id, task))


def _pretrained_model_created(s: Workspace, e: ev.PretrainedModelCreated, ts: float) -> Workspace:
    model = PretrainedModel(
        e.id, e.name, e.model, e.type, e.pid, e.tid, ts, e.source_path, e.eval_results, e.params, e.dataset
    )
    return evolve(
        s,
        pretrained_models=s.pretrained_models.set(e.id, model),
        counters=_bump(s.counters, "pretrained_model", e.id),
    )


def _pretrained_model_deleted(s: Workspace, e: ev.PretrainedModelDeleted, ts: float) -> Workspace:
    return evolve(s, pretrained_models=s.pretrained_models.delete(e.id))


def _exported_model_created(s: Workspace, e: ev.ExportedModelCreated, ts: float) -> Workspace:
    model = ExportedModel(
        e.id, e.name, e.model, e.type, e.pid, e.tid, ts, e.path, e.exported_type, e.eval_results, e.params, e.dataset
    )
    return evolve(
        s,
        exported_models=s.exported_models.set(e.id, model),
        counters=_bump(s.counters, "exported_model", e.id),
    )


def _exported_model_deleted(s: Workspace, e: ev.ExportedModelDeleted, ts: float) -> Workspace:
    return evolve(s, exported_models=s.exported_models.delete(e.id))


def _job_spawned(s: Workspace, e: ev.JobSpawned, ts: float) -> Workspace:
    known = s.jobs.get(e.id)  # on record already when its start event came first
    job = evolve(known, gpus=list(e.gpus)) if known else Job(e.id, e.kind, e.subject, ts, list(e.gpus))
    s = evolve(s, jobs=s.jobs.set(e.id, job))
    task = s.tasks.get(e.subject)
    if task is None or task.jobs.get(e.kind) == e.id:
        return s
    return evolve(s, tasks=s.tasks.set(e.subject, evolve(task, jobs={**task.jobs, e.kind: e.id})))


def _job_state_changed(s: Workspace, e: ev.JobStateChanged, ts: float) -> Workspace:
    old = s.jobs[e.id]
    times = {"started": old.started or (ts if e.state == "running" else 0.0),
             "ended": ts if e.state in TERMINAL else 0.0}
    job = evolve(old, state=e.state, pid=e.pid, exit_code=e.exit_code, signal=e.signal,
                 message=e.message, err_tail=list(e.err_tail), **times)
    s = evolve(s, jobs=s.jobs.set(e.id, job))
    if job.kind == "import" and job.subject in s.datasets:
        return evolve(s, datasets=s.datasets.set(job.subject, dataset_jobs.after_state(s.datasets[job.subject], job)))
    if job.subject in s.tasks:
        return evolve(s, tasks=s.tasks.set(job.subject, task_jobs.after_job(s.tasks[job.subject], job, s.jobs)))
    return s


def _demo_preparation_started(s: Workspace, e: ev.DemoPreparationStarted, ts: float) -> Workspace:
    demo = evolve(s.demos.get(e.type) or Demo(e.type), job=e.job, mirror=e.mirror)
    return evolve(_on_record(s, e.job, "demo", f"demo-{e.type}", ts), demos=s.demos.set(e.type, demo))


def _demo_loaded(s: Workspace, e: ev.DemoLoaded, ts: float) -> Workspace:
    demo = evolve(s.demos.get(e.type) or Demo(e.type), did=e.did, pid=e.pid, tid=e.tid)
    return evolve(s, demos=s.demos.set(e.type, demo))


REPORT_FIELD = {"progress": "progress", "metric": "last_metric", "done": "result"}


def _job_reported(s: Workspace, e: ev.JobReported, ts: float) -> Workspace:
    field_name = REPORT_FIELD.get(e.kind)
    changes = {field_name: e.data} if field_name else {}
    job = evolve(s.jobs[e.id], journal_seq=e.seq, **changes)
    s = evolve(s, jobs=s.jobs.set(e.id, job))
    if job.kind == "import" and job.subject in s.datasets and not (e.kind == "progress" and job.state in TERMINAL):
        # a progress report can reach the log after the job's end (first seen ended): it moves nothing
        dataset = dataset_jobs.after_report(s.datasets[job.subject], e.kind, e.data)
        s = evolve(s, datasets=s.datasets.set(job.subject, dataset))
    elif job.subject in s.tasks and e.kind in ("metric", "done"):
        task = s.tasks[job.subject]
        task = task_jobs.with_metric(task, job, e.data) if e.kind == "metric" else task_jobs.after_job(task, job, s.jobs)
        s = evolve(s, tasks=s.tasks.set(job.subject, task))
    return s


APPLIERS: dict[type, Callable[[Workspace, Any, float], Workspace]] = {
    ev.DatasetCreated: _dataset_created,
    ev.DatasetDeleted: _dataset_deleted,
    ev.DatasetAttributesSet: _dataset_attributes_set,
    ev.DatasetImportStarted: _dataset_import_started,
    ev.DatasetSplit: _dataset_split,
    ev.ProjectCreated: _project_created,
    ev.ProjectDeleted: _project_deleted,
    ev.ProjectAttributesSet: _project_attributes_set,
    ev.TaskCreated: _task_created,
    ev.TaskDeleted: _task_deleted,
    ev.TaskAttributesSet: _task_attributes_set,
    ev.TaskParamsSet: _task_params_set,
    ev.TaskJobStarted: _task_job_started,
    ev.PretrainedModelCreated: _pretrained_model_created,
    ev.PretrainedModelDeleted: _pretrained_model_deleted,
    ev.ExportedModelCreated: _exported_model_created,
    ev.ExportedModelDeleted: _exported_model_deleted,
    ev.JobSpawned: _job_spawned,
    ev.JobStateChanged: _job_state_changed,
    ev.JobReported: _job_reported,
    ev.DemoPreparationStarted: _demo_preparation_started,
    ev.DemoLoaded: _demo_loaded,
}
assert set(APPLIERS) == set(ev.CATALOG.values()), "every catalogued event type needs an applier"


def apply(state: Workspace, record: Record) -> Workspace:
    """Fold one stored record into the state."""
    return apply_event(state, ev.from_record(record), record.seq, record.ts)


def apply_event(state: Workspace, event: Any, seq: int, ts: float) -> Workspace:
    """Fold one domain event, stored as record `seq` at time `ts`, into the state."""
    return evolve(APPLIERS[type(event)](state, event, ts), seq=seq)


def fold(records: Iterable[Record], state: Workspace = EMPTY) -> Workspace:
    """Fold records, in order, into `state`."""
    for record in records:
        state = apply(state, record)
    return state
