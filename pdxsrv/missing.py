"""Files the state promises but the workspace lacks (restored without them, or removed by hand), said plainly.

The state (a fold of the log) says what exists; the files live beside it. After `pdxsrv events
replay` without `--with-files`, or when a folder was deleted by hand, an object's files can be
missing. Every answer about such an object says so in its message, and every action that needs the
files refuses with `FilesMissing` (code `files_missing`), never with an internal error. Why they are
missing comes from the restore's note (`.pdxsrv/restored.json`, `pdxsrv.restore`) when there is one.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pdxsrv import files
from pdxsrv.domain.commands import IMPORTED
from pdxsrv.domain.errors import Conflict
from pdxsrv.domain.jobs import ACTIVE
from pdxsrv.domain.state import Dataset, ExportedModel, PretrainedModel, Task, Workspace

NOTE = "restored.json"  # in <workspace>/.pdxsrv/: what a restore brought and what it could not
_notes: dict[str, dict[str, Any]] = {}


class FilesMissing(Conflict):
    """The object exists in the state, but the files the action needs are not in the workspace."""

    code = "files_missing"


def note_path(root: str) -> str:
    """`<workspace>/.pdxsrv/restored.json`."""
    return os.path.join(root, ".pdxsrv", NOTE)


def note(root: str) -> dict[str, Any]:
    """The restore note of the workspace (`{}` when it was not restored); read once per process."""
    if root not in _notes:
        try:
            with open(note_path(root), encoding="utf-8") as f:
                loaded = json.load(f)
            _notes[root] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            _notes[root] = {}
    return _notes[root]


def why(root: str, oid: str, fallback: str) -> str:
    """Why the files of `oid` are missing: what the restore said about them, else `fallback`."""
    restored = note(root)
    gone = (restored.get("gone") or {}).get(oid) or (restored.get("gone") or {}).get(oid.split("/")[0])
    if gone:
        return str(gone)
    if restored and not restored.get("with_files"):
        return "restored from the event log without them"
    return fallback


def _restore_hint(root: str) -> str:
    restored = note(root)
    return " or restore with --with-files" if restored and not restored.get("with_files") else ""


def dataset_problem(root: str, d: Dataset) -> str | None:
    """The message of an imported dataset whose files (its details.json) are missing, else None."""
    if d.status not in IMPORTED:
        return None
    folder = files.dataset_dir(root, d.id)
    if os.path.isfile(os.path.join(folder, "details.json")):
        return None
    reason = why(root, d.id, f"{folder} has no details.json")
    return f"its files are missing ({reason}): import again (PUT /dataset){_restore_hint(root)}"


def require_dataset(root: str, d: Dataset) -> None:
    """FilesMissing when the imported dataset's files are missing."""
    problem = dataset_problem(root, d)
    if problem:
        raise FilesMissing(f"dataset {d.id}: {problem}")


def model_promised(state: Workspace, task: Task) -> bool:
    """Whether the log says the task saved a checkpoint (an evaluation in training, or a stop that saved one)."""
    job = state.jobs.get(task.jobs.get("train", ""))
    if job is None:
        return False
    return bool(task.evals) or bool(job.result.get("stopped") and job.result.get("epoch"))


def has_model(root: str, task: Task) -> bool:
    """Whether the task's folder holds a checkpoint (output/epoch_N or output/best_model)."""
    path = files.task_dir(root, task.pid, task.id)
    return files.best_model_dir(path) is not None or bool(files.saved_epochs(path))


def task_problem(root: str, state: Workspace, task: Task) -> str | None:
    """The message of a task whose trained model the log promises but the workspace lacks, else None."""
    train = state.jobs.get(task.jobs.get("train", ""))
    if train is not None and train.state in ACTIVE:
        return None
    if not model_promised(state, task) or has_model(root, task):
        return None
    reason = why(root, f"{task.id}/output", f"{files.task_dir(root, task.pid, task.id)}/output has no checkpoint")
    return (f"its trained model is missing ({reason}): train it again (POST /project/task/train with discard: "
            f"true){_restore_hint(root)}")


def missing_model(root: str, state: Workspace, task: Task) -> FilesMissing | None:
    """The error for an action that needs the task's model, when the log promises one that is missing."""
    problem = task_problem(root, state, task)
    return FilesMissing(f"task {task.id}: {problem}") if problem else None


def pretrained_problem(root: str, m: PretrainedModel) -> str | None:
    """The message of a pretrained model whose copy (model.pdparams) is missing, else None."""
    folder = files.pretrained_dir(root, m.id)
    if os.path.isfile(os.path.join(folder, "model.pdparams")):
        return None
    reason = why(root, m.id, f"{folder} has no model.pdparams")
    return f"its files are missing ({reason}): save the model again (POST /model){_restore_hint(root)}"


def exported_problem(root: str, m: ExportedModel) -> str | None:
    """The message of an exported-model record whose folder no longer exists, else None."""
    if os.path.isdir(m.path):
        return None
    reason = why(root, m.id, f"{m.path} does not exist")
    return f"its files are missing ({reason}); export the task again"
