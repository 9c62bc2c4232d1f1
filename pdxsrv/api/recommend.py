"""The recommendation a project's tasks start from (GET /project/task/params {pid}, task creation, demo load).

Gathers the facts (GPUs and their free memory, the CPU and its measured step costs, `--step-costs`, the
dataset's counts and image size) and whether each model's pretrained weights can be had (in the weights
cache, or downloadable: not `--offline` and the source's host reachable), then asks
`pdxsrv.domain.recipes.recommend`. Runs off the event loop: reading GPU memory and probing a host block.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pdxsrv import machine_costs, system
from pdxsrv.domain import commands
from pdxsrv.domain.enums import DatasetStatus
from pdxsrv.domain.errors import Conflict
from pdxsrv.domain.params import choose_model
from pdxsrv.domain.recipes import Facts, recommend
from pdxsrv.domain.state import Dataset, Project, Workspace
from pdxsrv.weights import NoWeights, WeightsConfig, lookup
from pdxsrv.weights.probe import reachable

ASSUMED_TRAIN_IMAGES = 200  # what a recommendation assumes before the dataset is split (see design-notes)


def machine_facts(gpu_list: list[int] | None) -> tuple[list[int], list[int], tuple[int, int]]:
    """The GPUs to recommend for (default: GPU 0 if there is one, else the CPU), their free MB, and the CPU's
    (cores, free MB of RAM), read now."""
    if gpu_list is None:
        gpu_list = [0] if system.gpu_memory() else []
    return gpu_list, system.gpu_free_mb(gpu_list), system.cpu_capacity()


def obtainable(weights: WeightsConfig, params: dict[str, Any]) -> bool:
    """Whether the weights `params` name (model, backbone, keyword) are cached or can be downloaded now."""
    try:
        entry = lookup(str(params.get("model")), str(params.get("pretrain_weights")), params.get("backbone"))
    except NoWeights:
        return False
    if weights.cached(entry.model, entry.keyword, entry.backbone):
        return True
    return not weights.offline and reachable(weights.mirror or entry.url)


def dataset_facts(project: Project, dataset: Dataset, unsplit_ok: bool) -> tuple[int, int, int]:
    """(training images, evaluated images, classes) of the project's dataset; before a split, assumed counts."""
    if dataset.status == DatasetStatus.XSPLITED:
        split = dataset.split
        evaluated = int(split.get("val_num") or split.get("test_num") or dataset.train_num)
        return dataset.train_num, evaluated, dataset.num_classes
    if unsplit_ok:
        return ASSUMED_TRAIN_IMAGES, ASSUMED_TRAIN_IMAGES // 4, max(dataset.num_classes, 1)
    raise Conflict(
        f"dataset {dataset.id} of project {project.id} is not split (status {dataset.status.name}); the "
        "recommended parameters depend on its training set and classes: import and split it first"
    )


def _recommend(project: Project, dataset: Dataset, model_type: str | None, gpu_list: list[int] | None,
               weights: WeightsConfig, step_costs: str | None, unsplit_ok: bool) -> dict[str, Any]:
    gpus, free_mb, cpu = machine_facts(gpu_list)
    num_train, num_eval, num_classes = dataset_facts(project, dataset, unsplit_ok)
    side = dataset.summary.get("image_side")
    facts = Facts(gpus, free_mb, cpu, num_train, num_eval, num_classes, float(side) if side else None,
                  machine_costs.load(step_costs))
    return recommend(project.type, model_type, facts, lambda params: obtainable(weights, params))


async def recommendation(state: Workspace, project: Project, model_type: str | None, gpu_list: list[int] | None,
                         weights: WeightsConfig, step_costs: str | None, *, unsplit_ok: bool = False) -> dict[str, Any]:
    """`{"train", "recipe", "estimate"}` for a new task of `project` (`step_costs`: this machine's step-cost file);
    with `unsplit_ok`, a dataset not split yet counts as ASSUMED_TRAIN_IMAGES training images of the classes its
    import found (at least 1)."""
    choose_model(project.type, model_type)  # a wrong model is named before anything else
    if not project.did:
        raise Conflict(f"project {project.id} has no dataset; bind one with PUT /workspace first")
    dataset = commands.get_dataset(state, project.did)
    return await asyncio.get_running_loop().run_in_executor(
        None, _recommend, project, dataset, model_type, gpu_list, weights, step_costs, unsplit_ok)
