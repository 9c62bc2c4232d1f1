"""Measure each model's CPU cost per training step and per evaluated image: the table behind the time estimates.

For every model the API offers, on generated data at the type's reference side (pdxsrv.domain.step_costs.
REFERENCE_SIDE), batch 8: one untimed step, then STEPS timed training steps (load, forward, loss, backward,
optimizer step, as the loop does them) and one timed evaluation pass; prints the rows of
`pdxsrv/domain/step_costs.py` COSTS (seconds per step at batch 8, seconds per evaluated image).

Run by hand on a quiet machine: python bench/step_costs.py [--type classification] [--model ResNet18]
(`--side S --batch B`: the same measurement at another side and batch, printed as a plain line, not a
COSTS row: how far the table's linear scaling is from a real step.)
Results and the estimate's error against real runs: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.datasets.readers import READERS  # noqa: E402
from pdxsrv.datasets.split import split  # noqa: E402
from pdxsrv.datasets.synthetic import make  # noqa: E402
from pdxsrv.domain import from_scratch  # noqa: E402
from pdxsrv.domain.params import BACKBONES, MODELS  # noqa: E402
from pdxsrv.domain.step_costs import BATCH, REFERENCE_SIDE  # noqa: E402
from pdxsrv.engine import data as data_mod, loop  # noqa: E402
from pdxsrv.engine.base import DataSpec  # noqa: E402
from pdxsrv.engine.kinds import kind_of  # noqa: E402
from pdxsrv.engine.schedule import optimizer  # noqa: E402

STEPS = 3
# paddledet's Mask R-CNN post-process fails on a batch where an image has no box (paste_mask); one at a time
EVAL_BATCH = {"instance_segmentation": 1}
PICODET_SIDE = 160  # PicoDet refuses smaller images


def dataset(kind: str, root: str, side: int) -> DataSpec:
    """A generated dataset of `kind` at `side` px, split 75/25."""
    make(kind, root, images=32, size=side, seed=3)
    found = READERS[kind](root, None).details()
    parts = split(list(found["file_info"]), 0.25, 0.0, 0, found["file_info"] if kind == "classification" else None)
    return DataSpec(root, found["labels"], found["file_info"], parts, int(found.get("bands") or 3))


def measure(kind: str, model: str, backbone: str | None, data: DataSpec, side: int) -> tuple[float, float]:
    """(seconds per training step at BATCH, seconds per evaluated image) of `model` on `backbone`."""
    import paddle

    params = {**from_scratch.params(kind, model, side, BATCH, 10, 4, []), "pretrain_weights": None}
    if backbone:
        params["backbone"] = backbone
    engine_kind = kind_of(kind)
    network = loop.build(engine_kind, data, params)
    opt = optimizer(params, kind, network, 0.001)
    loader = data_mod.Loader(engine_kind, data, params)
    groups = data_mod.batches(data.parts["train"] * 4, BATCH)[:STEPS + 1]
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
        images = data.parts["val"][:BATCH * 2]
        began = time.perf_counter()
        loop.evaluate(engine_kind, network, loader, images, EVAL_BATCH.get(kind, BATCH))
        per_image = (time.perf_counter() - began) / len(images)
    finally:
        loader.close()
    del network, opt
    paddle.device.cuda.empty_cache() if paddle.is_compiled_with_cuda() else None
    return per_step, per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", action="append", choices=sorted(MODELS), help="project types (default: all)")
    parser.add_argument("--model", action="append", help="only these models")
    parser.add_argument("--side", type=int, help="measure at this side instead of the reference one")
    parser.add_argument("--batch", type=int, help="measure at this batch instead of BATCH")
    args = parser.parse_args()
    global BATCH
    BATCH = args.batch or BATCH
    loop.use_device()
    with tempfile.TemporaryDirectory() as work:
        for kind in args.type or list(MODELS):
            side = args.side or REFERENCE_SIDE[kind]
            data = dataset(kind, os.path.join(work, kind), side)
            bigger = dataset(kind, os.path.join(work, kind + "-big"), PICODET_SIDE) if kind == "detection" else None
            for model in MODELS[kind]:
                if args.model and model not in args.model or model.endswith("_ssld"):
                    continue
                for backbone in BACKBONES.get(model, (None,)):
                    step, image = measure(kind, model, backbone, bigger if model == "PicoDet" else data,
                                          PICODET_SIDE if model == "PicoDet" else side)
                    if model == "PicoDet":  # measured at its least side, scaled back to the reference
                        step, image = (v * (side / PICODET_SIDE) ** 2 for v in (step, image))
                    name = f"{model}/{backbone}" if backbone else model
                    if args.side or args.batch:
                        print(f"{kind} {name} at {side} px, batch {BATCH}: {step:.3f} s a step, "
                              f"{image:.4f} s an evaluated image", flush=True)
                        continue
                    print(f'    ("{kind}", "{name}"): ({step:.3f}, {image:.4f}),', flush=True)


if __name__ == "__main__":
    main()
