"""Read-only questions about the state that several places ask (pure)."""

from __future__ import annotations

from typing import Any

from immutables import Map

from pdxsrv.domain.ids import in_allocation_order
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.domain.state import Job, Project, Task, Workspace


def in_order(collection: Map) -> list[Any]:
    """The values of an ID-keyed map in allocation order."""
    return [collection[key] for key in in_allocation_order(collection.keys())]


def tasks_of(state: Workspace, pid: str) -> list[Task]:
    """A project's tasks in allocation order."""
    return [state.tasks[tid] for tid in in_allocation_order(state.project_tasks.get(pid, Map()).keys())]


def projects_using(state: Workspace, did: str) -> list[Project]:
    """The projects bound to a dataset, in allocation order."""
    return [p for p in in_order(state.projects) if p.did == did]


def active_jobs(state: Workspace, subject: str) -> list[Job]:
    """The jobs of a task or dataset that are queued or running, oldest first."""
    return sorted((j for j in state.jobs.values() if j.subject == subject and j.state in ACTIVE), key=lambda j: j.created)


def current_job(state: Workspace, task: Task, kind: str) -> Job | None:
    """The task's latest job of `kind`, if any (on record, `queued`, from its start event until the supervisor
    reports it)."""
    job_id = task.jobs.get(kind)
    return state.jobs.get(job_id) if job_id else None
