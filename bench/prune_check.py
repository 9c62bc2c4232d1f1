"""Prune end to end on generated data: train, analyse sensitivities, prune-retrain; FLOPs, parameters, metric.

    python bench/prune_check.py [--case classification|segmentation|segmentation_unet] [--pruned-flops 0.3]

Runs the engine in this process (the same code the jobs run): trains the parent task, runs the
sensitivity analysis on its val set, prunes the parent's best model to remove `--pruned-flops` of
its FLOPs and fine-tunes it, then evaluates both on the val set. Prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES: dict[str, dict[str, Any]] = {
    "classification": {"images": 120, "params": {
        "model": "ResNet18", "num_epochs": 10, "batch_size": 16, "learning_rate": 0.05, "lr_policy": "Cosine",
        "image_shape": [64, 64], "save_interval_epochs": 5}, "retrain": {"num_epochs": 5, "learning_rate": 0.005}},
    "segmentation": {"images": 80, "params": {
        "model": "FastSCNN", "num_epochs": 16, "batch_size": 8, "learning_rate": 0.01, "optimizer": "Adam",
        "lr_policy": "Cosine", "image_shape": [64, 64], "save_interval_epochs": 4},
        "retrain": {"num_epochs": 6, "learning_rate": 0.002}},
    # PaddleX's own pruning tutorial network; about 20x the FLOPs of FastSCNN (over 30 min on 2 cores).
    "segmentation_unet": {"kind": "segmentation", "images": 80, "params": {
        "model": "UNet", "num_epochs": 10, "batch_size": 8, "learning_rate": 0.01, "optimizer": "Adam",
        "lr_policy": "Cosine", "image_shape": [64, 64], "save_interval_epochs": 5},
        "retrain": {"num_epochs": 5, "learning_rate": 0.002}},
}


def run_case(name: str, pruned_flops: float, work: str) -> dict[str, Any]:
    """Train, analyse, prune-retrain and evaluate one case; its figures."""
    import paddle

    from pdxsrv.datasets import readers, synthetic
    from pdxsrv.engine import checkpoint, inference, loop, sensitivity
    from pdxsrv.engine.base import DataSpec
    from pdxsrv.engine.kinds import input_shape
    from pdxsrv.jobs.prune import evaluator

    case = CASES[name]
    kind = case.get("kind", name)
    root = os.path.join(work, name)
    synthetic.make(kind, root, images=case["images"], size=64, seed=3)
    found = readers.READERS[kind](root, None).details()
    images = sorted(found["file_info"])
    cut = len(images) * 3 // 4
    data = DataSpec(root, found["labels"], found["file_info"], {"train": images[:cut], "val": images[cut:], "test": []},
                    found.get("bands", 3))
    times: dict[str, float] = {}
    began = time.perf_counter()
    with paddle.utils.unique_name.guard():
        loop.train(loop.Run(os.path.join(work, f"{name}-parent"), kind, data, case["params"]))
    times["train"] = time.perf_counter() - began
    best = os.path.join(work, f"{name}-parent", checkpoint.BEST)
    parent = inference.load_trained(best)
    began = time.perf_counter()
    shape = input_shape(kind, parent.meta["params"], data.bands)
    sensitivities = sensitivity.analyse(parent.model, shape, evaluator(parent, data))
    times["analyse"] = time.perf_counter() - began
    began = time.perf_counter()
    params = {**case["params"], **case["retrain"]}
    with paddle.utils.unique_name.guard():
        outcome = loop.train(loop.Run(os.path.join(work, f"{name}-child"), kind, data, params, pretrained=best,
                                      prune={"sensitivities": sensitivities, "pruned_flops": pruned_flops}))
    times["prune_retrain"] = time.perf_counter() - began
    child = inference.load_trained(os.path.join(work, f"{name}-child", checkpoint.BEST))
    pruning = outcome["pruning"]
    return {"case": name, "model": case["params"]["model"], "layers_analysed": len(sensitivities["layers"]),
            "pruned_flops_asked": pruned_flops, "flops": pruning["flops"], "flops_cut": pruning["flops_cut"],
            "params": pruning["params"], "params_cut": pruning["params_cut"],
            "metric_parent": inference.summary_on(parent, data), "metric_after_cut": pruning["metrics"],
            "metric_child": inference.summary_on(child, data), "seconds": {k: round(v, 1) for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--pruned-flops", type=float, default=0.3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prune-check-") as work:
        for name in args.case or ["classification", "segmentation"]:
            print(json.dumps(run_case(name, args.pruned_flops, work)), flush=True)


if __name__ == "__main__":
    main()
