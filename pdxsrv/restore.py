"""The files of a point-in-time restore: what `pdxsrv events replay --with-files` brings from the source.

The log restores the state as of a point X exactly; files are not in the log, so they can only come
from the source workspace as it is *now*. For every object that exists at X its files are brought
when nothing after X replaced them; what was deleted or rewritten since X is gone, and said so:

* a dataset imported by X: `datasets/<did>/` (gone if deleted or imported again after X);
* a task of X: `projects/<pid>/<tid>/` part by part: `output/` (checkpoints, best model, VisualDL
  logs; gone if it trained again after X), `evaluate/`, `prune/`, `visualized_test_results/` (gone if
  that job ran again after X), `predict/` images of the jobs of X; `err.log`/`out.log` are pointed at
  the logs of its latest job of X;
* the job directories `.pdxsrv/jobs/<job>/` of the jobs of X whose subject exists at X (logs, journal);
* a pretrained model of X: `pretrain/<mid>/`; a prepared demo: `demo_datasets/<type>/` (gone if
  prepared again after X).

Exports live where the client put them (`save_dir`) and are not copied: the records keep their
paths. The supervisor's records are never copied (a restored workspace must not adopt the source's
processes). Files are hard-linked where possible (same file system), else copied; logs, journals and
VisualDL logs, which a running job appends to, are always copied, so nothing the restored workspace
does changes the source (pdxsrv writes every other file once, under a temporary name renamed into
place). The outcome is written to `.pdxsrv/restored.json` (`pdxsrv.missing` reads it).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from eventlog import Record
from pdxsrv import files
from pdxsrv.domain.commands import IMPORTED
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.domain.state import Task, Workspace
from pdxsrv.missing import model_promised, note_path
from pdxsrv.supervision import job_dir_for

TASK_PARTS = {"output": "train", "evaluate": "evaluate", "prune": "prune", "visualized_test_results": "predict"}


@dataclass
class Outcome:
    """What a restore brought (objects, files linked or copied, bytes), what it could not (id or `<tid>/<part>` ->
    why) and what came back but changed after X (`notes`)."""

    brought: list[str] = field(default_factory=list)
    gone: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    linked: int = 0
    copied: int = 0
    bytes: int = 0


def changes_after(later: Iterable[Record]) -> dict[str, tuple[str, int]]:
    """What replaced or removed files after X, by object (and `<tid>/<kind>` for a task's jobs): the first change."""
    changed: dict[str, tuple[str, int]] = {}

    def first(key: str, what: str, seq: int) -> None:
        changed.setdefault(key, (what, seq))

    for r in later:
        d = r.data or {}
        if r.type in ("dataset.deleted", "task.deleted", "project.deleted", "pretrained_model.deleted"):
            first(str(d.get("id")), "deleted", r.seq)
        elif r.type == "dataset.import_started":
            first(str(d.get("id")), "imported again", r.seq)
        elif r.type == "task.job_started":
            first(f"{d.get('id')}/{d.get('kind')}", f"{d.get('kind')} ran again", r.seq)
        elif r.type == "demo.preparation_started":
            first(f"demo-{d.get('type')}", "prepared again", r.seq)
    return changed


def bring(source: str, target: str, state: Workspace, later: Iterable[Record]) -> Outcome:
    """Bring the files of the objects of `state` (the state at X) from `source` into `target`."""
    out = Outcome()
    changed = changes_after(later)

    def gone(oid: str, part: str = "") -> str | None:
        hit = changed.get(f"{oid}/{part}" if part else oid) or (changed.get(oid) if part else None)
        return None if hit is None else f"{hit[0]} at seq {hit[1]}, after the restore point"

    def put(oid: str, rel: str, why_gone: str | None, copy_all: bool = False) -> bool:
        src = os.path.join(source, rel)
        if why_gone is None and not os.path.lexists(src):
            why_gone = f"{rel} is not in the source workspace"
        if why_gone is not None:
            out.gone.setdefault(oid, f"not brought back by the restore: {why_gone}")
            return False
        _tree(src, os.path.join(target, rel), out, copy_all)
        return True

    for d in state.datasets.values():
        if d.status in IMPORTED and put(d.id, f"datasets/{d.id}", gone(d.id)):
            out.brought.append(d.id)
    for mid in state.pretrained_models:
        if put(mid, f"pretrain/{mid}", gone(mid)):
            out.brought.append(mid)
    for demo in state.demos.values():
        job = state.jobs.get(demo.job)
        if job is not None and job.result.get("ok"):
            oid = f"demo-{demo.id}"
            if put(oid, f"demo_datasets/{demo.id}", gone(oid)):
                out.brought.append(oid)
    subjects = {*state.datasets, *state.tasks, *(f"demo-{t}" for t in state.demos)}
    for job in state.jobs.values():
        if job.subject in subjects and os.path.isdir(job_dir_for(source, job.id)):
            _tree(job_dir_for(source, job.id), job_dir_for(target, job.id), out, copy_all=True)
    for task in state.tasks.values():
        _task(source, target, state, task, out, gone, put)
    return out


def _task(source: str, target: str, state: Workspace, task: Task, out: Outcome, gone: Any, put: Any) -> None:
    """A task's folder, part by part, and its log links."""
    rel = f"projects/{task.pid}/{task.id}"
    folder = os.path.join(source, rel)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    if model_promised(state, task) and "output" not in names:
        put(f"{task.id}/output", f"{rel}/output", gone(task.id, "train"))
    brought = False
    for name in names:
        if name in files.TASK_LOGS:
            continue
        kind = TASK_PARTS.get(name)
        if kind is not None:
            if task.jobs.get(kind) is None:
                continue  # left by a job of that kind that ran after X
            why = gone(task.id, kind)
            job = state.jobs.get(task.jobs[kind])
            if why is None and job is not None and job.state in ACTIVE:
                out.notes.append(f"{task.id}: its {kind} job was running at the restore point; {name}/ came back "
                                 "as that job left it later")
            if put(f"{task.id}/{name}", f"{rel}/{name}", why):
                brought = True
        elif name == "predict":
            for image in sorted(os.listdir(os.path.join(folder, name))):
                if os.path.splitext(image)[0] in state.jobs:  # the images of the predictions of X
                    _tree(os.path.join(folder, name, image), os.path.join(target, rel, name, image), out)
        elif gone(task.id) is None:
            _tree(os.path.join(folder, name), os.path.join(target, rel, name), out)
    latest = max((state.jobs[j] for j in task.jobs.values() if j in state.jobs), key=lambda j: j.created,
                 default=None)
    if latest is not None and os.path.isdir(job_dir_for(target, latest.id)):
        files.link_task_logs(os.path.join(target, rel), job_dir_for(target, latest.id))
    if brought:
        out.brought.append(task.id)


def _appended(path: str) -> bool:
    """Whether a file is one a running job appends to (copied, never linked)."""
    return path.endswith((".log", ".seg")) or f"{os.sep}vdl_log{os.sep}" in path


def _tree(src: str, dst: str, out: Outcome, copy_all: bool = False) -> None:
    """Hard-link (else copy) the files under `src` into `dst`; symbolic links are copied as links."""
    if os.path.islink(src) or not os.path.isdir(src):
        _file(src, dst, out, copy_all)
        return
    for current, dirs, names in os.walk(src, followlinks=False):
        here = os.path.join(dst, os.path.relpath(current, src))
        os.makedirs(here, exist_ok=True)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(current, d))]:
            _file(os.path.join(current, name), os.path.join(here, name), out, copy_all)


def _file(src: str, dst: str, out: Outcome, copy_all: bool) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    if not os.path.isfile(src):
        return
    if not copy_all and not _appended(src):
        try:
            os.link(src, dst)
            out.linked += 1
            out.bytes += os.path.getsize(dst)
            return
        except OSError:  # another file system, no hard links there, too many links: copy
            pass
    shutil.copy2(src, dst)
    out.copied += 1
    out.bytes += os.path.getsize(dst)


def write_note(target: str, source: str, until_seq: int, with_files: bool, outcome: Outcome | None,
               listed: list[str]) -> None:
    """`.pdxsrv/restored.json`: where from, up to which seq, and what could not be brought back."""
    gone = dict(outcome.gone) if outcome else {}
    notes = list(outcome.notes) if outcome else []
    if not with_files:
        gone = {oid: "restored from the event log without them" for oid in listed}
    doc = {"source": source, "until_seq": until_seq, "restored_at": time.time(), "with_files": with_files,
           "brought": outcome.brought if outcome else [], "gone": gone, "notes": notes}
    os.makedirs(os.path.dirname(note_path(target)), exist_ok=True)
    with open(note_path(target), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
