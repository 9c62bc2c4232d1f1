"""Does every model export? Train each one short epoch, export, verify.

Each model the API accepts for classification, segmentation and remote sensing (4 bands) trains
one epoch on a few generated images with the engine's loop, then `engine.export.export_trained`
traces it, runs the program in paddle.inference on a val image and compares it with the trained
network (it raises when they differ). With `--onnx` the export is `engine.onnx_export.export_onnx`
(the paddle program, then paddle2onnx, checked in ONNX Runtime), and detection and instance
segmentation are included by default (their paddle exports are checked by
tests/test_engine_det_models.py). Prints one line per model with the seconds the export took. Run
by hand (about 10 minutes on 2 cores; with --onnx about 30):

    python bench/export_check.py [--onnx] [--type segmentation] [--model HRNet_W18]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from pdxsrv.datasets import readers, synthetic  # noqa: E402
from pdxsrv.domain.params import BACKBONES, MODELS  # noqa: E402
from pdxsrv.engine import checkpoint, export, inference, loop, onnx_export  # noqa: E402
from pdxsrv.engine.base import DataSpec  # noqa: E402

TYPES = {"classification": 32, "segmentation": 64, "remote_segmentation": 64}
DETECTION = {"detection": 128, "instance_segmentation": 128}


class Quiet:
    """Drops the loop's reports."""

    def progress(self, **kv: object) -> None:
        """Drop."""

    def metric(self, **kv: object) -> None:
        """Drop."""

    def log(self, message: str, level: str = "info") -> None:
        """Drop."""


def check(project_type: str, model: str, work: str, onnx: bool, backbone: str | None = None) -> float:
    """Train `model` one epoch, export it (ONNX with `onnx`) and verify; the export's seconds."""
    root = os.path.join(work, project_type)
    size = {**TYPES, **DETECTION}[project_type]
    if not os.path.isdir(root):
        synthetic.make(project_type, root, images=12, size=max(64, size))
    found = readers.READERS[project_type](root, None).details()
    images = sorted(found["file_info"])
    data = DataSpec(root, found["labels"], found["file_info"], {"train": images[:8], "val": images[8:], "test": []},
                    found["bands"])
    params = {"model": model, "backbone": backbone, "num_epochs": 1, "batch_size": 4, "learning_rate": 0.001,
              "save_interval_epochs": 1, "image_shape": [size, size],
              "optimizer": "Adam" if project_type != "classification" else None}
    output = tempfile.mkdtemp(dir=work)
    loop.train(loop.Run(output, project_type, data, params), Quiet())
    trained = inference.load_trained(os.path.join(output, checkpoint.BEST))
    sample = trained.kind.sample(data, data.parts["val"][0], False, np.random.default_rng(0), params)
    began = time.perf_counter()
    (onnx_export.export_onnx if onnx else export.export_trained)(trained, tempfile.mkdtemp(dir=work), sample)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", choices=sorted(TYPES), action="append")
    parser.add_argument("--model", action="append")
    parser.add_argument("--onnx", action="store_true", help="export to ONNX (and include detection by default)")
    args = parser.parse_args()
    failed = 0
    what = "ONNX" if args.onnx else "paddle"
    with tempfile.TemporaryDirectory() as work:
        for project_type in args.type or list(TYPES) + (list(DETECTION) if args.onnx else []):
            for model in MODELS[project_type]:
                if args.model and model not in args.model:
                    continue
                for backbone in BACKBONES.get(model, (None,)):
                    name = f"{model}-{backbone}" if backbone else model
                    try:
                        seconds = check(project_type, model, work, args.onnx, backbone)
                        print(f"{project_type:20s} {name:24s} {what} export verified in {seconds:6.1f} s", flush=True)
                    except Exception as exc:  # report every model, then fail
                        failed += 1
                        print(f"{project_type:20s} {name:24s} FAILED: {str(exc)[-300:]}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
