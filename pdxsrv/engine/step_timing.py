"""Time a model's CPU training step and evaluated image: the measurement behind the step-cost tables.

For a model on generated data at its type's reference side (`pdxsrv.domain.step_costs.REFERENCE_SIDE`),
batch `BATCH`: one untimed step, then STEPS timed training steps (load, forward, loss, backward, optimizer
step, as the loop does them) and one timed evaluation pass of up to 2 batches. PicoDet, which refuses
images under PICODET_SIDE, is timed there and scaled back to the reference side by pixels.
Used by `pdxsrv step-costs measure` (this machine's table) and `bench/step_costs.py` (the reference table).
"""

from __future__ import annotations

import os
import time
from typing import Iterator

from pdxsrv.datasets.readers import READERS
from pdxsrv.datasets.split import split
from pdxsrv.datasets.synthetic import make
from pdxsrv.domain import from_scratch
from pdxsrv.domain.params import BACKBONES, MODELS
from pdxsrv.domain.step_costs import BATCH, REFERENCE_SIDE
from pdxsrv.engine import data as data_mod, loop
from pdxsrv.engine.base import DataSpec
from pdxsrv.engine.kinds import kind_of
from pdxsrv.engine.schedule import optimizer

STEPS = 3
# paddledet's Mask R-CNN post-process fails on a batch where an image has no box (paste_mask); one at a time
EVAL_BATCH = {"instance_segmentation": 1}
PICODET_SIDE = 160  # PicoDet refuses smaller images


def entries(types: list[str] | None = None, models: list[str] | None = None) -> Iterator[tuple[str, str, str | None]]:
    """(project type, model, backbone or None) of every model the API offers (only those types and models)."""
    for kind in types or list(MODELS):
        for model in MODELS[kind]:
            if models and model not in models or model.endswith("_ssld"):
                continue
            for backbone in BACKBONES.get(model, (None,)):
                yield kind, model, backbone


def dataset(kind: str, root: str, side: int) -> DataSpec:
    """A generated dataset of `kind` at `side` px in `root` (made once), split 75/25."""
    if not os.path.isdir(root):
        make(kind, root, images=32, size=side, seed=3)
    found = READERS[kind](root, None).details()
    parts = split(list(found["file_info"]), 0.25, 0.0, 0, found["file_info"] if kind == "classification" else None)
    return DataSpec(root, found["labels"], found["file_info"], parts, int(found.get("bands") or 3))


def measure(kind: str, model: str, backbone: str | None, work: str, side: int | None = None,
            batch: int = BATCH) -> tuple[float, float]:
    """(seconds per training step at `batch`, seconds per evaluated image) of `model` on `backbone`, at `side`
    (default: the reference side, where a table row is measured), on generated data kept under `work`."""
    import paddle

    side = side or REFERENCE_SIDE[kind]
    timed_side = max(side, PICODET_SIDE) if model == "PicoDet" else side
    data = dataset(kind, os.path.join(work, f"{kind}-{timed_side}"), timed_side)
    params = {**from_scratch.params(kind, model, timed_side, batch, 10, 4, []), "pretrain_weights": None}
    if backbone:
        params["backbone"] = backbone
    engine_kind = kind_of(kind)
    network = loop.build(engine_kind, data, params)
    opt = optimizer(params, kind, network, 0.001)
    loader = data_mod.Loader(engine_kind, data, params)
    groups = data_mod.batches(data.parts["train"] * 4, batch)[:STEPS + 1]
    try:
        network.train()
        began = None
        for index, x, y in loader.iterate(groups, train=True):
            if index == 1:
                began = time.perf_counter()
            loss = engine_kind.train_loss(network, x, y, params)
            loss.backward()
            opt.step()
            opt.clear_grad()
        per_step = (time.perf_counter() - began) / STEPS
        images = data.parts["val"][:batch * 2]
        began = time.perf_counter()
        loop.evaluate(engine_kind, network, loader, images, EVAL_BATCH.get(kind, batch))
        per_image = (time.perf_counter() - began) / len(images)
    finally:
        loader.close()
    del network, opt
    if paddle.is_compiled_with_cuda():
        paddle.device.cuda.empty_cache()
    scale = (side / timed_side) ** 2  # PicoDet: timed at its least side, scaled back
    return per_step * scale, per_image * scale
