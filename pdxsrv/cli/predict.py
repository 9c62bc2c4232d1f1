"""`pdxsrv predict MODEL_DIR IMAGE... [--runtime paddle|onnx] [--out DIR]`: predict with an exported model.

MODEL_DIR is the save_dir of an export (its deploy.yml says what the program is and how to feed it;
`engine.exported`). One JSON object per image and line on stdout, in the order given:

    {"image": PATH, "category": ..., "category_id": ..., "score": ..., "topk": [...]}      classification
    {"image": PATH, "objects": [{"category", "category_id", "score", "bbox"}, ...],
     "score_thresh": 0.5}                                                              detection (+ mask_pixels)
    {"image": PATH, "label_map_classes": [...], "class_pixels": {...}, "mask": PATH|null}  segmentation

An image that cannot be read gives `{"image": PATH, "error": "..."}` and exit status 1 after the
others; a model folder that cannot be loaded gives one line on stderr and exit status 2. With
`--out DIR`, the drawn picture is written to `DIR/<name>.png` (segmentation also writes its label
map, one class index per pixel, to `DIR/<name>_mask.png`); names repeated among the images get
`-2`, `-3`, ... appended.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

RUNTIMES = ("paddle", "onnx")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `predict` command's arguments."""
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="the folder an export wrote (with deploy.yml)")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files (4-band models: .tif or .npy)")
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="paddle.inference or ONNX Runtime (default: the one deploy.yml's program is for)")
    parser.add_argument("--out", metavar="DIR", default=None, help="write the drawn pictures (and masks) here")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="S",
                        help="detection: report boxes scoring at least S (default 0.5)")
    parser.set_defaults(handler=run)


def _names(images: list[str]) -> list[str]:
    """An output name per image: its file name without extension, made unique."""
    seen: dict[str, int] = {}
    names = []
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0] or "image"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def _write(out: str, name: str, prediction: Any) -> dict[str, Any]:
    """Write the picture (and mask); the line's extra keys."""
    import cv2

    if not cv2.imwrite(os.path.join(out, name + ".png"), prediction.visual):
        raise OSError(f"could not write {os.path.join(out, name + '.png')}")
    extra: dict[str, Any] = {"visual": os.path.join(out, name + ".png")}
    if "mask" in prediction.extra:
        extra["mask"] = os.path.join(out, name + "_mask.png")
        if not cv2.imwrite(extra["mask"], prediction.extra["mask"]):
            raise OSError(f"could not write {extra['mask']}")
    return extra


def run(args: argparse.Namespace) -> int:
    """pdxsrv predict."""
    import warnings

    warnings.filterwarnings("ignore", message="No ccache found")  # paddle's import-time note for extension builders
    from pdxsrv.engine.base import EngineError
    from pdxsrv.engine.exported import ExportedModel

    try:
        model = ExportedModel(args.model_dir, args.runtime)
    except EngineError as exc:
        print(f"pdxsrv predict: cannot load the model: {exc}", file=sys.stderr)
        return 2
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    failed = False
    for path, name in zip(args.images, _names(args.images)):
        line: dict[str, Any] = {"image": path}
        try:
            prediction = model.predict(path, args.threshold)
            line.update(prediction.result)
            if model.kind in ("segmentation", "remote_segmentation"):
                line["mask"] = None
            if args.out:
                line.update(_write(args.out, name, prediction))
        except EngineError as exc:
            line["error"] = str(exc)
            failed = True
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0
