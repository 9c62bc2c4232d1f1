"""An exported model used from its folder alone: deploy.yml, the program, and paddle.inference or ONNX Runtime.

`ExportedModel(folder, runtime)` reads `deploy.yml` (`engine.export`'s format), preprocesses an image
as its `Transforms` say (the same functions the engine trains and predicts with), runs the program and
gives what pdxsrv's own predictor gives for that project type (`Prediction`: the result, a drawn BGR
picture, and for segmentation the label map at the picture's size):

* classification: `category`, `category_id`, `score`, `topk` (the program ends in softmax);
* detection / instance segmentation: `objects` [{category, category_id, score, bbox [x1, y1, x2, y2]}]
  at `score_thresh` and above (instance segmentation adds each object's `mask_pixels`);
* segmentation and remote sensing: `label_map_classes`, `class_pixels`.
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from pdxsrv.engine import augment
from pdxsrv.engine.base import EngineError, Prediction

RUNTIMES = ("paddle", "onnx")
TOPK = 5


def read_deploy(folder: str) -> dict[str, Any]:
    """deploy.yml of an export folder; EngineError saying what is wrong and what to do."""
    import yaml

    path = os.path.join(folder, "deploy.yml")
    if not os.path.isdir(folder):
        raise EngineError(f"{folder} is not a folder: give the save_dir of an export")
    if not os.path.isfile(path):
        raise EngineError(f"{path} does not exist: give the folder an export wrote (its save_dir, with deploy.yml)")
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise EngineError(f"{path} is not valid YAML ({exc}); export the model again") from None
    missing = [k for k in ("project_type", "labels", "program", "Transforms") if not isinstance(config, dict)
               or k not in config]
    if missing:
        raise EngineError(f"{path} lacks {', '.join(missing)}: it was not written by pdxsrv's export; export again")
    return config


def _program(folder: str, config: dict[str, Any], runtime: str | None) -> tuple[str, Any]:
    """(runtime, the loaded program) for deploy.yml's program, or the runtime asked for."""
    from pdxsrv.engine.export import ONNX_FILE, InferenceModel
    from pdxsrv.engine.onnx_export import OnnxModel

    program = os.path.join(folder, str(config["program"]))
    runtime = runtime or ("onnx" if program.endswith(".onnx") else "paddle")
    if runtime not in RUNTIMES:
        raise EngineError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if runtime == "onnx":
        if not program.endswith(".onnx"):
            raise EngineError(f"{folder} holds a paddle program ({config['program']}), not {ONNX_FILE}: "
                              "use --runtime paddle, or export the task with type onnx")
        if not os.path.isfile(program):
            raise EngineError(f"{program} is missing: export the task again")
        return runtime, OnnxModel(program)
    if program.endswith(".onnx"):
        raise EngineError(f"{folder} holds an ONNX model ({config['program']}): use --runtime onnx, or export the "
                          "task with type infer for a paddle program")
    try:
        return runtime, InferenceModel(os.path.splitext(program)[0])
    except FileNotFoundError as exc:
        raise EngineError(f"{exc}: export the task again") from None


class ExportedModel:
    """A pdxsrv export loaded from its folder, predicting one image at a time."""

    def __init__(self, folder: str, runtime: str | None = None) -> None:
        self.config = read_deploy(folder)
        self.kind = str(self.config["project_type"])
        self.labels = [str(v) for v in self.config["labels"]]
        self.bands = int(self.config.get("in_channels") or 3)
        self.steps = {name: args for step in self.config["Transforms"] for name, args in step.items()}
        norm = self.steps["Normalize"]
        self.norm = {"image_mean": norm["mean"], "image_std": norm["std"]}
        self.runtime, self.program = _program(folder, self.config, runtime)

    def _read(self, path: str) -> np.ndarray:
        img = augment.read_raster(path) if self.bands != 3 else augment.read_rgb(path)
        if img.shape[2] != self.bands:
            raise EngineError(f"{path} has {img.shape[2]} bands; the model takes {self.bands}")
        return img

    def _run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.program.run({name: feeds[name] for name in self.program.inputs})

    def predict(self, path: str, score_thresh: float = 0.5) -> Prediction:
        """The prediction for the image at `path` (EngineError if it cannot be read)."""
        if not os.path.isfile(path):
            raise EngineError(f"{path} does not exist")
        img = self._read(path)
        if self.kind == "classification":
            return self._classify(img)
        if self.kind in ("detection", "instance_segmentation"):
            return self._detect(img, score_thresh)
        return self._segment(img)

    def _classify(self, rgb: np.ndarray) -> Prediction:
        from pdxsrv.engine.classification import draw

        x = augment.normalize(augment.center_crop(rgb, tuple(self.steps["CenterCrop"]["size"])), self.norm)
        scores = self._run({"image": x[None]})[0].astype(np.float64).reshape(-1)
        top = [{"category": self.labels[i], "category_id": int(i), "score": float(scores[i])}
               for i in np.argsort(-scores, kind="stable")[:min(TOPK, len(self.labels))]]
        return Prediction({**top[0], "topk": top}, draw(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), top))

    def _detect(self, rgb: np.ndarray, score_thresh: float) -> Prediction:
        from pdxsrv.datasets.visualize import PALETTE

        width, height = (int(v) for v in self.steps["Resize"]["target_size"])
        h, w = rgb.shape[:2]
        x = augment.normalize(augment.resize(np.ascontiguousarray(rgb), (width, height)), self.norm)
        outs = self._run({"image": x[None], "im_shape": np.array([[height, width]], np.float32),
                          "scale_factor": np.array([[height / h, width / w]], np.float32)})
        boxes = next(o for o in outs if o.ndim == 2 and o.shape[-1] == 6)
        masks = next((o for o in outs if o.ndim == 3), None) if self.kind == "instance_segmentation" else None
        keep = (boxes[:, 0] >= 0) & (boxes[:, 1] > 0) & (boxes[:, 1] >= score_thresh)  # drop paddledet's pad row
        visual = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        kept_masks = masks[keep] if masks is not None and len(masks) == len(boxes) else None
        if kept_masks is not None:
            overlay = visual.copy()
            for row, mask in zip(boxes[keep], kept_masks):
                overlay[mask.astype(bool)] = PALETTE[int(row[0]) + 1]
            visual = cv2.addWeighted(visual, 0.5, overlay, 0.5, 0)
        objects = []
        for i, (cls, score, x1, y1, x2, y2) in enumerate(boxes[keep].tolist()):
            name = self.labels[int(cls)] if 0 <= int(cls) < len(self.labels) else str(int(cls))
            colour = tuple(int(v) for v in PALETTE[int(cls) + 1])
            cv2.rectangle(visual, (int(x1), int(y1)), (int(x2), int(y2)), colour, 2)
            cv2.putText(visual, f"{name} {score:.2f}", (int(x1), max(10, int(y1) - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4, colour, 1, cv2.LINE_AA)
            found = {"category": name, "category_id": int(cls), "score": score, "bbox": [x1, y1, x2, y2]}
            if kept_masks is not None:
                found["mask_pixels"] = int(np.count_nonzero(kept_masks[i]))
            objects.append(found)
        return Prediction({"objects": objects, "score_thresh": score_thresh}, visual)

    def _segment(self, original: np.ndarray) -> Prediction:
        from pdxsrv.engine.segmentation import draw_legend, overlay, stretch

        height, width = original.shape[:2]
        x = augment.normalize(augment.resize(original, tuple(self.steps["Resize"]["target_size"])), self.norm)
        label_map = self._run({"image": x[None]})[0][0].astype(np.uint8)
        mask = augment.resize(label_map, (width, height), nearest=True)
        counts = np.bincount(mask.ravel(), minlength=len(self.labels))
        present = [int(c) for c in np.flatnonzero(counts) if c < len(self.labels)]
        result = {"label_map_classes": sorted(self.labels[c] for c in present),
                  "class_pixels": {self.labels[c]: int(counts[c]) for c in present}}
        base = stretch(original, (0, 1, 2)) if self.bands != 3 else cv2.cvtColor(original, cv2.COLOR_RGB2BGR)
        visual = overlay(base, mask)
        draw_legend(visual, present, self.labels)
        return Prediction(result, visual, {"mask": mask})
