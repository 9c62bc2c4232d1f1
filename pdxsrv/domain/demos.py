"""Demo projects (/demo), pure: each type's archive, how a preparation reads as DownloadStatus, load and unload.

A demo is prepared by one job at a time, `demo-<type>.demo.<n>` (`pdxsrv.jobs.demo`), whose reports are:

* progress `{"phase", "done", "total", "message"}`: phase `downloading` or `generating` reads as
  XDDOWNLOADING with progress = 100 * done / total; `verifying`, `extracting`, `checking`, `finishing` read
  as XDDOWNLOADDONE;
* one `done`: `{"ok": true, "name", "source": "mirror"|"generated", "note", "train_num", "num_classes"}`
  (XDDECOMPRESSED; the demo is `<workspace>/demo_datasets/<type>/<name>/`) or
  `{"ok": false, "message"[, "stopped": true]}` (XDDOWNLOADFAIL).

The status is derived from the job at every read, so it cannot stay XDDOWNLOADING: a job that ends without
`done` (killed, crashed, lost with the supervisor) reads as XDDOWNLOADFAIL with how it ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from pdxsrv.domain import commands, train_schema
from pdxsrv.domain import events as ev
from pdxsrv.domain.enums import ACTIVE_DATASET_STATUSES, DownloadStatus, ProjectType
from pdxsrv.domain.errors import Conflict, InvalidArgument
from pdxsrv.domain.ids import TASK, format_id
from pdxsrv.domain.jobs import ACTIVE, job_outcome
from pdxsrv.domain.queries import active_jobs, projects_using
from pdxsrv.domain.state import Workspace

# The original's archive per project type (spec: dataset/operate.py); a mirror serves these names.
ARCHIVES: dict[str, str] = {
    "classification": "vegetables_cls.tar.gz",
    "detection": "insect_det.tar.gz",
    "segmentation": "optic_disc_seg.tar.gz",
    "instance_segmentation": "xiaoduxiong_ins_det.tar.gz",
    "remote_segmentation": "remote_sensing_seg.tar.gz",
}
DOWNLOADING_PHASES = frozenset({"downloading", "generating"})
JOB_KIND = "demo"


def project_type(value: object) -> str:
    """`prj_type` as the original took it (the ProjectType integer or its name), as the type's name."""
    try:
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            return ProjectType[value.strip()].name
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise TypeError(value)
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return ProjectType(int(number)).name
    except (KeyError, ValueError, TypeError, OverflowError):
        names = ", ".join(f"{t.value} ({t.name})" for t in ProjectType)
        raise InvalidArgument(f"prj_type {value!r} is not a project type; use one of: {names}") from None


def subject(prj_type: str) -> str:
    """The subject of a type's preparation jobs (`demo-<type>`)."""
    return f"demo-{prj_type}"


@dataclass(frozen=True)
class Preparation:
    """Where a type's demo stands: the original's (status, progress) plus a sentence and the job's result."""

    status: DownloadStatus | None
    progress: float
    message: str
    result: dict[str, Any] = field(default_factory=dict)


def _percent(progress: Mapping[str, Any]) -> float:
    try:
        done, total = float(progress.get("done") or 0), float(progress.get("total") or 0)
    except (TypeError, ValueError):
        return 0.0
    return round(min(max(100.0 * done / total, 0.0), 100.0), 2) if total > 0 else 0.0


def preparation(state: Workspace, prj_type: str) -> Preparation:
    """The status of a type's demo, derived from its latest preparation job."""
    demo = state.demos.get(prj_type)
    if demo is None or not demo.job:
        return Preparation(None, 0.0, "")
    job = state.jobs.get(demo.job)
    if job is None or (job.state in ACTIVE and not job.progress):
        return Preparation(DownloadStatus.XDDOWNLOADING, 0.0, "the preparation is starting")
    if job.state in ACTIVE:
        message = str(job.progress.get("message") or job.progress.get("phase") or "")
        if job.progress.get("phase") in DOWNLOADING_PHASES:
            return Preparation(DownloadStatus.XDDOWNLOADING, _percent(job.progress), message)
        return Preparation(DownloadStatus.XDDOWNLOADDONE, 100.0, message)
    result = dict(job.result)
    if result.get("ok"):
        return Preparation(DownloadStatus.XDDECOMPRESSED, 100.0, str(result.get("note") or ""), result)
    percent = _percent(job.progress) if job.progress.get("phase") in DOWNLOADING_PHASES else 0.0
    if result.get("stopped") or (job.state == "killed" and not result):
        message = str(result.get("message") or "the preparation was stopped; download again to start over")
    elif result.get("message"):
        message = str(result["message"])
    elif job.state == "exited":
        message = f"the preparation (job {job.id}) ended without reporting a result; download again"
    else:
        message = job_outcome(job)
    return Preparation(DownloadStatus.XDDOWNLOADFAIL, percent, message, result)


def start_preparation(state: Workspace, prj_type: str, job: str, mirror: str) -> list[Any]:
    """POST /demo {type: download}: a preparation job was started (refused while one runs)."""
    running = [j for j in active_jobs(state, subject(prj_type)) if j.id != job]  # its own may be reported already
    if running:
        raise Conflict(f"the {prj_type} demo is already being prepared (job {running[0].id}); wait for it, "
                       "or cancel it with PUT /demo")
    return [ev.DemoPreparationStarted(prj_type, job, mirror)]


def ready(state: Workspace, prj_type: str) -> Preparation:
    """The preparation of a demo that can be loaded, or Conflict saying why it cannot."""
    prep = preparation(state, prj_type)
    code = ProjectType[prj_type].value
    if prep.status is None:
        raise Conflict(f"the {prj_type} demo is not downloaded yet; prepare it first with POST /demo "
                       f"{{'type': 'download', 'prj_type': {code}}}")
    if prep.status in (DownloadStatus.XDDOWNLOADING, DownloadStatus.XDDOWNLOADDONE):
        raise Conflict(f"the {prj_type} demo is still being prepared ({prep.status.name}, {prep.progress:g}%); "
                       "wait until GET /demo answers status 3 (XDDECOMPRESSED)")
    if prep.status == DownloadStatus.XDDOWNLOADFAIL:
        raise Conflict(f"the preparation of the {prj_type} demo failed: {prep.message}; download it again")
    return prep


def name_taken(state: Workspace, dataset_name: str, project_name: str) -> str | None:
    """The original's `loading_status` when a dataset or project of the demo's name exists, else None."""
    if any(d.name == dataset_name for d in state.datasets.values()):
        return "dataset already exists"
    if any(p.name == project_name for p in state.projects.values()):
        return "project already exists"
    return None


def load(state: Workspace, prj_type: str, dataset_info: Mapping[str, Any], project_info: Mapping[str, Any],
         params: Mapping[str, Any]) -> list[Any]:
    """POST /demo {type: load}: the demo's dataset, its project bound to it, and one task with `params`."""
    ready(state, prj_type)
    (dataset,) = commands.create_dataset(state, str(dataset_info["name"]), str(dataset_info.get("desc") or ""),
                                         prj_type)
    (project,) = commands.create_project(state, str(project_info["name"]), str(project_info.get("desc") or ""),
                                         prj_type)
    try:
        checked = train_schema.trainable(prj_type, params)  # unknown keys dropped, as the original's loader did
    except InvalidArgument as exc:
        raise InvalidArgument(f"the demo's train_params cannot be used: {exc.message}") from None
    tid = format_id(TASK, state.counters.task + 1)
    return [
        dataset, project, ev.ProjectAttributesSet(project.id, {"did": dataset.id}),
        ev.TaskCreated(tid, project.id, project.desc, checked), ev.DemoLoaded(prj_type, dataset.id, project.id, tid),
    ]


def pending_load(state: Workspace, prj_type: str) -> str | None:
    """The dataset of the demo's last load while it is not imported yet (what PUT /demo removes), else None."""
    demo = state.demos.get(prj_type)
    dataset = state.datasets.get(demo.did) if demo is not None and demo.did else None
    if dataset is None or dataset.status in commands.IMPORTED:
        return None
    return dataset.id


def unload(state: Workspace, prj_type: str) -> list[Any]:
    """PUT /demo: delete the project, tasks and dataset of a load whose import has not finished."""
    did = pending_load(state, prj_type)
    if did is None:
        return []
    if state.datasets[did].status in ACTIVE_DATASET_STATUSES:
        raise Conflict(f"dataset {did} of the {prj_type} demo is still being imported; stop its import first")
    demo = state.demos[prj_type]
    events: list[Any] = []
    if demo.pid in state.projects and state.projects[demo.pid].did == did:
        events += commands.delete_project(state, demo.pid)
    if all(p.id == demo.pid for p in projects_using(state, did)):
        events.append(ev.DatasetDeleted(did))
    return events
