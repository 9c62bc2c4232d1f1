"""What a model record (/model) keeps of its task and dataset, and the record an export registers (pure)."""

from __future__ import annotations

from typing import Any, Mapping

from pdxsrv.domain import events as ev
from pdxsrv.domain.ids import EXPORTED_MODEL, format_id
from pdxsrv.domain.state import ExportedModel, Job, PretrainedModel, Task, Workspace


def model_name(params: Mapping[str, Any]) -> str:
    """The original's `model` of a record: `<model>[-<backbone>][-WITH_FPN]`."""
    name = str(params.get("model", ""))
    if params.get("backbone"):
        name += f"-{params['backbone']}"
    return name + ("-WITH_FPN" if params.get("with_fpn") else "")


def dataset_attr(state: Workspace, did: str) -> dict[str, Any]:
    """GET /model {mid}'s `dataset_attr`: name, desc, labels and the split's image counts."""
    dataset = state.datasets.get(did)
    if dataset is None:
        return {"name": "", "desc": "", "labels": [], "train_num": 0, "val_num": 0, "test_num": 0}
    counts = {**dataset.summary, **dataset.split}
    return {"name": dataset.name, "desc": dataset.desc, "labels": list(dataset.summary.get("labels", [])),
            **{key: int(counts.get(key, 0)) for key in ("train_num", "val_num", "test_num")}}


def exported_name(task: Task) -> str:
    """The name an export registers its record under (the web demo's own choice for the same record)."""
    return f"{task.id}_export_model"


def on_export_done(state: Workspace, job: Job, result: Mapping[str, Any]) -> list[Any]:
    """The record a successful export registers, unless its task already has one for that folder."""
    task = state.tasks.get(job.subject)
    path = result.get("save_dir")
    if job.kind != "export" or not result.get("ok") or task is None or not path:
        return []
    if any(m.tid == task.id and m.path == path for m in state.exported_models.values()):
        return []
    project = state.projects.get(task.pid)
    if project is None:
        return []
    mid = format_id(EXPORTED_MODEL, state.counters.exported_model + 1)
    return [ev.ExportedModelCreated(
        mid, exported_name(task), model_name(task.params), project.type, project.id, task.id, path,
        int(result.get("exported_type", 0)), dict(result.get("metrics") or {}), dict(task.params),
        dataset_attr(state, project.did),
    )]


def eval_results(state: Workspace, model: ExportedModel | PretrainedModel) -> dict[str, Any]:
    """A record's evaluation result; for an exported record made by a client, its latest export's metrics."""
    if model.eval_results or not isinstance(model, ExportedModel):
        return dict(model.eval_results)
    done = [j for j in state.jobs.values() if j.kind == "export" and j.subject == model.tid
            and j.result.get("ok") and j.result.get("save_dir") == model.path]
    return dict(max(done, key=lambda j: int(j.id.rsplit('.', 1)[1])).result.get("metrics") or {}) if done else {}
