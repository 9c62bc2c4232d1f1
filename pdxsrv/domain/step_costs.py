"""How long a training run takes on a CPU: measured step costs per model, and the estimate built on them, pure.

COSTS[(project type, model or "model/backbone")] = (seconds per training step at BATCH images of
REFERENCE_SIDE px, seconds per evaluated image at that side), measured by `python bench/step_costs.py`
on this project's 2-core reference machine (bench/RESULTS.md, with the estimate's error against real
runs). Another CPU runs a model's steps 0.6 to 3.2 times as long (bench/RESULTS.md), and not by one
factor, so a machine can measure its own: `pdxsrv step-costs measure` writes a `Table` that
`estimate(..., here=table)` prefers, model by model, to the reference one; the answer says which it
used (`measured_on`: "this_machine" or "reference"). Every finished CPU training run adds its own figures to that
table too (`Table.runs`, `learned`: the estimate's scaling inverted; `pdxsrv.machine_costs`), and an estimate of a
run of about the same work per step (within NEAR times) takes the median of those runs' figures before all else;
of another size, when runs of the model at two sizes at least NEAR apart bracket it (within NEAR), a line through
their step seconds against their work (`_fitted`: a step's fixed overhead plus a cost per unit of work).
A run at another side and batch is scaled by images and by pixels (side^2; for the R-CNN family by
pixels^AREA_EXPONENT: their RoI heads cost the same at any size, a Mask R-CNN step at 64 px cost 0.7 of
one at 128 px per image, not 0.25; for the YOLO family all but a FIXED_SHARE of the step); on
another core count by (the table's cores) / cores. The estimate adds the evaluations (the val set, plus
the batch-norm pass over up to 64 training images, pdxsrv.engine.bn_stats, in every type but
NO_BN_PASS) and STARTUP for the process and the network. No GPU has been measured here: on a GPU the
estimate is None.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping

BATCH = 8
REFERENCE_CORES = 2
REFERENCE_SIDE = {"classification": 64, "segmentation": 64, "remote_segmentation": 64, "detection": 128,
                  "instance_segmentation": 128}
STARTUP = 12.0  # seconds: the job process, paddle's import, the network's construction
BN_IMAGES = 64
NO_BN_PASS = ("instance_segmentation",)  # the types whose evaluations skip the pass (Kind.fresh_bn_stats)
AREA_EXPONENT = {"FasterRCNN": 0.25, "MaskRCNN": 0.25}
# The share of a YOLO-family step (at BATCH images of REFERENCE_SIDE) that does not shrink with fewer or smaller
# images, fitted to steps timed at 128 px x 8 and at 64/96 px x 4 (bench/RESULTS.md): the linear scaling made the
# recipe's steps 0.24 s where they took 0.85 (YOLOv3 at 64 px x 4), 1.12 for 1.92 (PP-YOLO at 96 px x 4)
FIXED_SHARE = {"YOLOv3": 0.29, "PPYOLOTiny": 0.28, "PPYOLO": 0.22}
# A training run's figures estimate only runs whose steps do within NEAR times its work: the scaling misses a
# step's fixed overhead (a 32 px run of batch 4 read 4.6x the reference figure, which would have made every 64 px
# recipe look 4.6x as slow and cut its epochs)
NEAR = 2.0
COSTS: dict[tuple[str, str], tuple[float, float]] = {  # measured 2026-12-06, 2 cores, quiet (bench/RESULTS.md)
    ("classification", "MobileNetV1"): (0.346, 0.0168),
    ("classification", "MobileNetV2"): (0.488, 0.0194),
    ("classification", "MobileNetV3_small"): (0.205, 0.0087),
    ("classification", "MobileNetV3_large"): (0.286, 0.0107),
    ("classification", "ResNet18"): (0.512, 0.0166),
    ("classification", "ResNet34"): (0.830, 0.0314),
    ("classification", "ResNet50"): (1.172, 0.0307),
    ("classification", "ResNet101"): (1.779, 0.0804),
    ("classification", "ResNet152"): (2.300, 0.0764),
    ("classification", "ShuffleNetV2"): (0.181, 0.0082),
    ("classification", "DenseNet121"): (0.598, 0.0266),
    ("classification", "DenseNet161"): (1.507, 0.0505),
    ("classification", "DenseNet169"): (0.823, 0.0315),
    ("classification", "DenseNet201"): (0.947, 0.0388),
    ("detection", "YOLOv3/MobileNetV1"): (2.028, 0.0978),
    ("detection", "YOLOv3/MobileNetV3"): (1.931, 0.0692),
    ("detection", "YOLOv3/DarkNet53"): (4.922, 0.1829),
    ("detection", "YOLOv3/ResNet34"): (3.377, 0.1762),
    ("detection", "PPYOLO/ResNet50_vd"): (3.965, 0.1578),
    ("detection", "PPYOLOTiny/MobileNetV3"): (0.668, 0.0367),
    ("detection", "PicoDet/LCNet"): (0.587, 0.0212),
    ("detection", "FasterRCNN/ResNet50"): (5.895, 0.3652),
    ("detection", "FasterRCNN/ResNet34"): (6.598, 0.4266),
    ("detection", "FasterRCNN/ResNet18"): (5.888, 0.3970),
    ("segmentation", "DeepLabV3P"): (2.370, 0.1023),
    ("segmentation", "BiSeNetV2"): (0.420, 0.0154),
    ("segmentation", "UNet"): (3.126, 0.1401),
    ("segmentation", "HRNet_W18"): (0.877, 0.0369),
    ("segmentation", "FastSCNN"): (0.344, 0.0121),
    ("segmentation", "PPLiteSeg"): (0.627, 0.0138),
    ("remote_segmentation", "DeepLabV3P"): (3.197, 0.1139),
    ("remote_segmentation", "BiSeNetV2"): (0.426, 0.0191),
    ("remote_segmentation", "UNet"): (3.003, 0.1362),
    ("remote_segmentation", "HRNet_W18"): (1.025, 0.0530),
    ("remote_segmentation", "FastSCNN"): (0.271, 0.0133),
    ("remote_segmentation", "PPLiteSeg"): (0.648, 0.0155),
    ("instance_segmentation", "MaskRCNN/ResNet50"): (17.333, 0.5490),
    ("instance_segmentation", "MaskRCNN/ResNet18"): (17.546, 2.1103),
}


@dataclass(frozen=True)
class Table:
    """Step costs measured on one machine: `costs` as COSTS, at `cores` cores; `where` names the machine in words;
    `runs` per model the figures its finished training runs gave, (work, step, image): `step` and `image` as in
    `costs` (`learned`), `work` the run's step relative to a step of BATCH images at REFERENCE_SIDE (`work`)."""

    costs: Mapping[tuple[str, str], tuple[float, float]]
    cores: int
    where: str
    runs: Mapping[tuple[str, str], tuple[tuple[float, float, float], ...]] = field(default_factory=dict)


REFERENCE = Table(COSTS, REFERENCE_CORES, f"pdxsrv's {REFERENCE_CORES}-core reference machine")


def cost(project_type: str, model: str, backbone: str | None = None,
         table: Table = REFERENCE) -> tuple[float, float] | None:
    """The measured (step, image) seconds of a model (on a backbone) in `table`, or None when not measured."""
    costs = table.costs
    if backbone and (project_type, f"{model}/{backbone}") in costs:
        return costs[(project_type, f"{model}/{backbone}")]
    found = costs.get((project_type, model))
    if found is None:  # a detector measured only per backbone: its first (default) one
        found = next((v for (t, name), v in costs.items() if t == project_type and name.startswith(model + "/")),
                     None)
    return found


def key(project_type: str, model: str, backbone: str | None) -> str:
    """The name a model's costs are kept under: "model/backbone" where the reference table keeps it so (detectors),
    else the model's own name."""
    if backbone and ((project_type, f"{model}/{backbone}") in COSTS or (project_type, model) not in COSTS):
        return f"{model}/{backbone}"
    return model


def evaluated_images(project_type: str, num_train: int, num_eval: int) -> int:
    """The images one evaluation runs through the network: the val set, and the batch-norm pass's training images."""
    return num_eval + (0 if project_type in NO_BN_PASS else min(BN_IMAGES, num_train))


def _area(project_type: str, model: str, width: int, height: int) -> float:
    """An image's cost at `width` x `height` relative to one at the type's REFERENCE_SIDE."""
    return ((width * height) / REFERENCE_SIDE[project_type] ** 2) ** AREA_EXPONENT.get(model, 1.0)


def work(project_type: str, model: str, width: int, height: int, batch: int) -> float:
    """A step of `batch` images at `width` x `height` relative to one of BATCH images at REFERENCE_SIDE."""
    fixed = FIXED_SHARE.get(model, 0.0)
    return fixed + (1.0 - fixed) * batch / BATCH * _area(project_type, model, width, height)


def learned(project_type: str, model: str, image_shape: list[int], batch: int, cpu: float, step_seconds: float,
            image_seconds: float) -> tuple[float, float, float]:
    """(work, step, image) of a run for `Table.runs`: the table's seconds that make `estimate` give the run's own,
    `step_seconds` a step of `batch` images and `image_seconds` an evaluated image at `image_shape`, on `cpu` =
    (the table's cores) / (the cores the run used); the inverse of the estimate's scaling."""
    width, height = (list(image_shape) * 2)[:2]
    step_work, area = work(project_type, model, int(width), int(height), max(batch, 1)), \
        _area(project_type, model, int(width), int(height))
    if step_work <= 0 or area <= 0:
        raise ValueError(f"no costs can be learned from a run at image_shape {image_shape}")
    return step_work, step_seconds / (step_work * cpu), image_seconds / (area * cpu)


def _near_runs(runs: tuple[tuple[float, float, float], ...], step_work: float) -> list[tuple[float, float, float]]:
    """The runs (of one model) whose steps were within NEAR times the work of `step_work`'s."""
    return [run for run in runs if step_work > 0 and max(run[0], step_work) <= NEAR * min(run[0], step_work)]


def _fitted(runs: tuple[tuple[float, float, float], ...], step_work: float) -> tuple[float, float] | None:
    """(step, image) figures for a step of `step_work` from a least-squares line through the runs' step seconds
    against their work, each size's median (runs within NEAR of a size's smallest are one size), when two sizes at
    least bracket `step_work` within NEAR and the line has a cost per unit of work and no negative overhead; the
    image figure is the nearest run's."""
    sizes: list[list[tuple[float, float, float]]] = []
    for run in sorted(runs):
        if sizes and run[0] <= NEAR * sizes[-1][0][0]:
            sizes[-1].append(run)
        else:
            sizes.append([run])
    if len(sizes) < 2 or step_work <= 0 or not sizes[0][0][0] / NEAR <= step_work <= sizes[-1][-1][0] * NEAR:
        return None
    works = [statistics.median(run[0] for run in size) for size in sizes]
    seconds = [statistics.median(run[0] * run[1] for run in size) for size in sizes]  # a step's, at its work
    slope, overhead = statistics.linear_regression(works, seconds)
    if slope <= 0 or overhead < 0:
        return None
    nearest = min(runs, key=lambda run: abs(math.log(run[0] / step_work)))
    return (overhead + slope * step_work) / step_work, nearest[2]


def _measures(table: Table, project_type: str, model: str, backbone: str | None) -> bool:
    """Whether `table` has the model itself (on that backbone, when one is named), not only a sibling backbone."""
    if backbone:
        return any(key in table.costs for key in ((project_type, f"{model}/{backbone}"), (project_type, model)))
    return cost(project_type, model, None, table) is not None


def estimate(project_type: str, params: dict[str, Any], num_train: int, num_eval: int, cores: int,
             on_gpu: bool, here: Table | None = None) -> dict[str, Any]:
    """{"seconds", "method", "measured_on", "basis"}: the expected wall time of training with `params` (None when
    unknown), from `here` (this machine's table) when it has the model, else from the reference table."""
    if on_gpu:
        return {"seconds": None, "method": "none", "basis": "no GPU step costs have been measured"}
    model, backbone = str(params.get("model")), params.get("backbone") or None
    width, height = (int(side) for side in (list(params.get("image_shape") or [0, 0]) * 2)[:2])
    batch = max(min(int(params["batch_size"]), num_train), 1)
    step_work = work(project_type, model, width, height, batch)
    runs = here.runs.get((project_type, key(project_type, model, backbone)), ()) if here is not None else ()
    near = _near_runs(runs, step_work)
    fitted = None if near else _fitted(runs, step_work)
    table = (here if here is not None and (near or fitted or _measures(here, project_type, model, backbone))
             else REFERENCE)
    measured = ((statistics.median(run[1] for run in near), statistics.median(run[2] for run in near)) if near
                else fitted or cost(project_type, model, backbone, table))
    if measured is None:
        return {"seconds": None, "method": "none", "basis": f"no step cost measured for {model}"}
    step, image = measured
    epochs, interval = int(params["num_epochs"]), max(int(params.get("save_interval_epochs") or 1), 1)
    steps = epochs * max(num_train // batch, 1)
    evaluations = len({e for e in range(1, epochs + 1) if e % interval == 0} | {epochs})
    cpu = table.cores / max(cores, 1)
    evaluate = (evaluations * evaluated_images(project_type, num_train, num_eval) * image
                * _area(project_type, model, width, height) * cpu)
    train = steps * step * step_work * cpu
    if table is REFERENCE:
        source = (f"from step costs measured on {table.where}, not on this one (other CPUs ran a model's steps 0.6 "
                  "to 3.2 times as long; `pdxsrv step-costs measure` measures this machine's)")
    elif near:
        source = (f"from {len(near)} training run{'s' * (len(near) > 1)} of {model} of about this size on "
                  f"{table.where}")
    elif fitted:
        source = f"from a line through {len(runs)} training runs of {model} of other sizes on {table.where}"
    else:
        source = f"from step costs measured on {table.where}"
    return {"seconds": round(STARTUP + train + evaluate), "method": "table",
            "measured_on": "reference" if table is REFERENCE else "this_machine",
            "basis": f"{steps} steps of {batch} images at {width}x{height} and {evaluations} evaluations, {source}"}
