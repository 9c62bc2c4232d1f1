"""What does int8 post-training quantization cost? Train a classifier, export it quantized, compare val top-1.

Trains ResNet18 for 6 epochs on 120 generated 64 px shape images (3 classes, 25 % val) with the
engine's loop, then runs `engine.quant.export_quantized` (the export job's quantized path:
calibration on 40 train images, the check on one val image, val metrics before and after) and
prints both, the seconds the quantized export took and the files it wrote. Run by hand (a few
minutes on 2 cores): python bench/quant_check.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from pdxsrv.datasets.readers import READERS  # noqa: E402
from pdxsrv.datasets.split import split  # noqa: E402
from pdxsrv.datasets.synthetic import make  # noqa: E402
from pdxsrv.engine import inference, loop, quant  # noqa: E402
from pdxsrv.engine.base import DataSpec  # noqa: E402
from bench.quality_bench import Printer  # noqa: E402

PARAMS = {"model": "ResNet18", "num_epochs": 6, "batch_size": 16, "learning_rate": 0.05, "lr_policy": "Cosine",
          "image_shape": [64, 64], "save_interval_epochs": 6}


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        root = os.path.join(work, "data")
        make("classification", root, images=120, size=64, seed=1)
        found = READERS["classification"](root, None).details()
        parts = split(list(found["file_info"]), 0.25, 0.0, 0, found["file_info"])
        data = DataSpec(root, found["labels"], found["file_info"], parts, 3)
        loop.train(loop.Run(os.path.join(work, "output"), "classification", data, PARAMS), Printer())
        best = os.path.join(work, "output", "best_model")
        trained = inference.load_trained(best)
        sample = trained.kind.sample(data, parts["val"][0], False, np.random.default_rng(0), PARAMS)
        out = os.path.join(work, "out")
        os.makedirs(out)
        began = time.perf_counter()
        _, result = quant.export_quantized(trained, best, out, data, sample, lambda stage: None)
        seconds = time.perf_counter() - began
        print(f"val metrics before {result['before']}, after {result['after']} ({len(parts['val'])} images); "
              f"quantized export {seconds:.0f} s; inference.pdiparams "
              f"{os.path.getsize(os.path.join(out, 'inference.pdiparams')) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
