"""Where a workspace keeps the files of its datasets, tasks and models (derived from IDs, never stored)."""

from __future__ import annotations

import os
import shutil

from pdxsrv.domain.ids import parse_id
from pdxsrv.domain.state import Workspace

COUNTER = {"D": "dataset", "P": "project", "T": "task", "PM": "pretrained_model"}


# Plain formatting, not os.path.join: IDs never hold a separator, and lists render 100k of these.


def dataset_dir(root: str, did: str) -> str:
    """`<workspace>/datasets/<did>`."""
    return f"{root}/datasets/{did}"


def project_dir(root: str, pid: str) -> str:
    """`<workspace>/projects/<pid>`."""
    return f"{root}/projects/{pid}"


def task_dir(root: str, pid: str, tid: str) -> str:
    """`<workspace>/projects/<pid>/<tid>`."""
    return f"{root}/projects/{pid}/{tid}"


def pretrained_dir(root: str, mid: str) -> str:
    """`<workspace>/pretrain/<mid>`."""
    return f"{root}/pretrain/{mid}"


TASK_LOGS = ("err.log", "out.log")


def link_task_logs(task_path: str, job_dir: str) -> None:
    """Point `<task dir>/err.log` and `out.log` at the logs of the task's latest job, `job_dir`.

    They are relative symbolic links (`../../../.pdxsrv/jobs/<job>/err.log`), so they resolve inside
    the workspace (where /file may read them) and survive moving it; each is replaced atomically
    (a new link renamed over the old). The logs are created empty first, so a link never dangles.
    """
    os.makedirs(task_path, exist_ok=True)
    for name in TASK_LOGS:
        target = os.path.join(job_dir, name)
        open(target, "ab").close()
        link = os.path.join(task_path, name)
        temp = f"{link}.{os.getpid()}.new"
        if os.path.lexists(temp):
            os.unlink(temp)
        os.symlink(os.path.relpath(target, task_path), temp)
        os.replace(temp, link)


def remove_tree(path: str) -> None:
    """Delete a directory tree if it exists."""
    shutil.rmtree(path, ignore_errors=True)


def remove_orphans(root: str, state: Workspace) -> list[str]:
    """Delete the directories of deleted datasets, projects, tasks and models (a crash before cleanup).

    Only directories named by an ID that was allocated and is gone are touched.
    """
    places = [
        (os.path.join(root, "datasets"), "D", state.datasets),
        (os.path.join(root, "projects"), "P", state.projects),
        (os.path.join(root, "pretrain"), "PM", state.pretrained_models),
    ] + [(project_dir(root, pid), "T", state.tasks) for pid in state.projects]
    removed = []
    for name in _listdir(os.path.join(root, "pretrain")):
        if name.startswith(".incoming-"):  # a copy interrupted by a crash
            remove_tree(os.path.join(root, "pretrain", name))
            removed.append(os.path.join(root, "pretrain", name))
    for base, prefix, live in places:
        for name in _listdir(base):
            parsed = parse_id(name)
            path = os.path.join(base, name)
            if (
                parsed
                and parsed[0] == prefix
                and parsed[1] <= getattr(state.counters, COUNTER[prefix])
                and name not in live
                and os.path.isdir(path)
            ):
                remove_tree(path)
                removed.append(path)
    return removed


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def saved_epochs(task_path: str) -> list[int]:
    """Epochs with a complete checkpoint (`output/epoch_N/`, written atomically), in order."""
    epochs = []
    for name in _listdir(os.path.join(task_path, "output")):
        if name.startswith("epoch_") and name[6:].isdigit():
            epochs.append(int(name[6:]))
    return sorted(epochs)


def best_model_dir(task_path: str) -> str | None:
    """`output/best_model` if the task saved one."""
    path = os.path.join(task_path, "output", "best_model")
    return path if os.path.isdir(path) else None
