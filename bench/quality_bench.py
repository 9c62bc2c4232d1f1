"""Do the models learn? Train on data with a known answer and report the val metric and wall time.

Cases (each trains with the engine's loop, exactly as a training job does, then evaluates the best
model with the evaluation job's code):
* digits — scikit-learn's bundled 8x8 digits (1,797 images), upscaled to 32x32 RGB PNGs in class
  folders; target top-1 >= 0.95;
* shapes — generated shapes segmentation (pdxsrv.datasets.synthetic); target mIoU >= 0.8;
* remote — generated 4-band remote-sensing segmentation; target mIoU >= 0.8;
* det_yolo, det_rcnn — generated shapes detection (VOC), a YOLO-family model and Faster R-CNN;
  target mAP@0.5 (VOC 11-point) >= 0.6;
* mask_rcnn — generated shapes instance segmentation (COCO polygons), Mask R-CNN; target mask
  mAP@0.5 >= 0.5.

Run by hand (minutes on a CPU), not in CI: python bench/quality_bench.py [--case digits|shapes|remote] ...
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pdxsrv.datasets.readers import READERS  # noqa: E402
from pdxsrv.datasets.split import split  # noqa: E402
from pdxsrv.datasets.synthetic import make  # noqa: E402
from pdxsrv.engine import inference, loop  # noqa: E402
from pdxsrv.engine.base import DataSpec  # noqa: E402

CASES: dict[str, dict[str, Any]] = {
    "digits": {"kind": "classification", "target": ("Acc1", 0.95),
               "params": {"model": "ResNet18", "num_epochs": 12, "batch_size": 32, "learning_rate": 0.05,
                          "lr_policy": "Cosine", "image_shape": [32, 32], "save_interval_epochs": 4,
                          "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "brightness": False, "contrast": False,
                          "saturation": False, "hue": False, "horizontal_flip": False, "vertical_flip": False}},
    "shapes": {"kind": "segmentation", "target": ("Mean_IoU", 0.8), "images": 300, "size": 64,
               "params": {"model": "BiSeNetV2", "num_epochs": 25, "batch_size": 8, "learning_rate": 0.01,
                          "optimizer": "Adam", "lr_policy": "Cosine", "image_shape": [64, 64],
                          "save_interval_epochs": 5}},
    "remote": {"kind": "remote_segmentation", "target": ("Mean_IoU", 0.8), "images": 300, "size": 64,
               "params": {"model": "BiSeNetV2", "num_epochs": 25, "batch_size": 8, "learning_rate": 0.01,
                          "optimizer": "Adam", "lr_policy": "Cosine", "image_shape": [64, 64],
                          "save_interval_epochs": 5}},
    "det_yolo": {"kind": "detection", "target": ("mAP", 0.6), "images": 300, "size": 128,
                 "params": {"model": "PPYOLOTiny", "num_epochs": 100, "batch_size": 8, "learning_rate": 0.001,
                            "optimizer": "Adam", "lr_policy": "Cosine", "warmup_steps": 100, "warmup_start_lr": 0.0,
                            "image_shape": [128, 128], "save_interval_epochs": 10, "use_mixup": False,
                            "expand_image": False}},
    "det_rcnn": {"kind": "detection", "target": ("mAP", 0.6), "images": 200, "size": 128,
                 "params": {"model": "FasterRCNN", "backbone": "ResNet18", "num_epochs": 16, "batch_size": 8,
                            "learning_rate": 0.02, "lr_policy": "Cosine", "warmup_steps": 40,
                            "image_shape": [128, 128], "save_interval_epochs": 4}},
    "mask_rcnn": {"kind": "instance_segmentation", "target": ("Mask_mAP", 0.5), "images": 200, "size": 128,
                  "params": {"model": "MaskRCNN", "backbone": "ResNet18", "num_epochs": 8, "batch_size": 8,
                             "learning_rate": 0.005, "lr_policy": "Cosine", "warmup_steps": 40,
                             "image_shape": [128, 128], "save_interval_epochs": 4}},
}


def digits(root: str) -> None:
    """scikit-learn's digits as class folders of 32x32 PNGs."""
    from sklearn.datasets import load_digits

    data = load_digits()
    for i, (image, label) in enumerate(zip(data.images, data.target)):
        folder = os.path.join(root, str(label))
        os.makedirs(folder, exist_ok=True)
        grey = (image / 16.0 * 255).astype(np.uint8)
        big = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(os.path.join(folder, f"{i:05d}.png"), cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))


def dataset(case: dict[str, Any], root: str) -> DataSpec:
    """Write the case's data and split it 80/20 (seed 0)."""
    if case["kind"] == "classification":
        digits(root)
    else:
        make(case["kind"], root, images=case["images"], size=case["size"], seed=1)
    found = READERS[case["kind"]](root, None).details()
    classes = found["file_info"] if case["kind"] == "classification" else None
    parts = split(list(found["file_info"]), 0.2, 0.0, 0, classes)
    return DataSpec(root, found["labels"], found["file_info"], parts, int(found.get("bands") or 3))


class Printer:
    """Print one line per epoch's evaluation."""

    def __init__(self) -> None:
        self.last = 0.0

    def progress(self, **kv: Any) -> None:
        """Print a step at most once a minute."""
        if time.monotonic() - self.last >= 60:
            self.last = time.monotonic()
            print(f"  epoch {kv.get('epoch')} step {kv.get('step')}/{kv.get('steps')} loss {kv.get('loss')}", flush=True)

    def metric(self, **kv: Any) -> None:
        """Print an evaluation."""
        print(f"  epoch {kv['epoch']}: {kv['metrics']}", flush=True)

    def log(self, message: str, level: str = "info") -> None:
        """Print a log line."""
        print(f"  {message}", flush=True)


def run(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one case; return its figures."""
    case = CASES[name]
    params = {**case["params"], **overrides}
    with tempfile.TemporaryDirectory() as work:
        data = dataset(case, os.path.join(work, "data"))
        began = time.perf_counter()
        loop.train(loop.Run(os.path.join(work, "output"), case["kind"], data, params), Printer())
        trained_s = time.perf_counter() - began
        report = inference.evaluate_on(inference.load_trained(os.path.join(work, "output", "best_model")), data, {})
    key, target = case["target"]
    return {"case": name, "model": params["model"], "epochs": params["num_epochs"], "train_images": len(data.parts["train"]),
            "val_images": len(data.parts["val"]), key: round(report[key], 4), "target": target,
            "met": report[key] >= target, "train_seconds": round(trained_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--epochs", type=int, help="override num_epochs")
    parser.add_argument("--model", help="override the model")
    parser.add_argument("--backbone", help="override the backbone (detection)")
    parser.add_argument("--lr", type=float, help="override learning_rate")
    args = parser.parse_args()
    overrides = {k: v for k, v in (("num_epochs", args.epochs), ("model", args.model), ("backbone", args.backbone),
                                   ("learning_rate", args.lr)) if v is not None}
    print(f"cpu threads: {os.cpu_count()}")
    for name in args.case or list(CASES):
        print(f"{name}:", flush=True)
        print(run(name, overrides), flush=True)


if __name__ == "__main__":
    main()
