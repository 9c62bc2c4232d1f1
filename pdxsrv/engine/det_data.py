"""Detection and instance-segmentation samples: the objects of an image (VOC or COCO) and their augmentation.

`Annotations(data).objects(image)` gives each object's class index, box (x1, y1, x2, y2 in pixels),
VOC `difficult` flag and COCO segmentation (polygons, or RLE), parsing each COCO json once.
`train_sample` applies the original's detection augmentations in its order — colour distortion,
random expand (`expand_image`, `expand_prob`, up to 4x, filled with the mean colour), random crop
(`crop_image`: a crop keeping at least one object centre), horizontal flip — then resizes to
`image_shape`; `eval_sample` only resizes. Both return the normalised C x H x W image and a target
dict: `gt_bbox` [n, 4] float32 and `gt_poly` (polygons) in the resized image, `gt_class` [n] int32,
`gt_score` [n] float32 (1, or the mixup weight), `difficult` [n], `im_shape` [h, w] and
`scale_factor` [sy, sx] (resized / original), and, for evaluation, `orig_bbox` (boxes in the
original image, where the model's boxes come back).

Mixup (`mixup`, before all the others, as the original's `MixupImage`): the image is blended with
another training image, weight `factor` ~ Beta(`mixup_alpha`, `mixup_beta`) for the first, on a
canvas the size of both; the objects of both are kept, each scored with its image's weight. It
applies while `epoch < mixup_until(params)`. Random shapes are not applied (the original's 2.x
trainer ignored them too).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import numpy as np

from pdxsrv.engine import augment
from pdxsrv.engine.base import DataSpec, EngineError

MAX_EXPAND = 4.0


@dataclass(frozen=True)
class Obj:
    """One annotated object."""

    label: int
    box: tuple[float, float, float, float]
    difficult: bool = False
    segmentation: Any = None


class Annotations:
    """The objects of each image of a dataset, read on demand (thread-safe)."""

    def __init__(self, data: DataSpec) -> None:
        self.data = data
        self._coco: dict[str, dict[str, list[Obj]]] = {}
        self._lock = threading.Lock()

    def objects(self, image: str) -> list[Obj]:
        """The objects of `image` (relative to the dataset root)."""
        annotation = self.data.file_info[image]
        if annotation.lower().endswith(".xml"):
            return self._voc(os.path.join(self.data.root, annotation))
        with self._lock:
            if annotation not in self._coco:
                self._coco[annotation] = self._read_coco(os.path.join(self.data.root, annotation))
        index = self._coco[annotation]
        return index.get(image) or index.get(os.path.basename(image)) or []

    def _voc(self, path: str) -> list[Obj]:
        out = []
        for node in ElementTree.parse(path).getroot().iter("object"):
            name = (node.findtext("name") or "").strip()
            if name not in self.data.labels:
                continue
            bb = node.find("bndbox")
            box = tuple(float(bb.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax")) if bb is not None else ()
            if len(box) == 4 and box[2] > box[0] and box[3] > box[1]:
                out.append(Obj(self.data.labels.index(name), box, (node.findtext("difficult") or "0").strip() == "1"))
        return out

    def _read_coco(self, path: str) -> dict[str, list[Obj]]:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        names = {c["id"]: c["name"] for c in doc.get("categories", [])}
        files = {img["id"]: img["file_name"] for img in doc.get("images", [])}
        index: dict[str, list[Obj]] = {}
        for ann in doc.get("annotations", []):
            name = names.get(ann.get("category_id"))
            if name not in self.data.labels or ann.get("image_id") not in files or ann.get("iscrowd"):
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            if w <= 0 or h <= 0:
                continue
            obj = Obj(self.data.labels.index(name), (x, y, x + w, y + h), False, ann.get("segmentation"))
            file_name = files[ann["image_id"]]
            for key in (file_name, f"JPEGImages/{file_name}", os.path.basename(file_name)):
                index.setdefault(key, []).append(obj)
        return index


def arrays(objects: list[Obj]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[np.ndarray]]]:
    """(boxes [n, 4], classes [n], difficult [n], polygons per object) of a list of objects."""
    boxes = np.array([o.box for o in objects], dtype=np.float32).reshape(-1, 4)
    classes = np.array([o.label for o in objects], dtype=np.int32)
    difficult = np.array([o.difficult for o in objects], dtype=bool)
    polys = [[np.array(p, dtype=np.float32).reshape(-1, 2) for p in o.segmentation]
             if isinstance(o.segmentation, list) else [] for o in objects]
    return boxes, classes, difficult, polys


def mixup_until(params: dict[str, Any]) -> int:
    """The first epoch without mixup: 0 when `use_mixup` is off, else `mixup_epoch` or 25/27 of the epochs."""
    if not augment.flag(params, "use_mixup", False):
        return 0
    if params.get("mixup_epoch") is not None:
        return int(augment.number(params, "mixup_epoch", 0))
    return int(augment.number(params, "num_epochs", 0) * 25 / 27)


def mixup_factor(params: dict[str, Any], rng: np.random.Generator) -> float:
    """The first image's weight, Beta(mixup_alpha, mixup_beta) clipped to [0, 1]."""
    alpha, beta = augment.number(params, "mixup_alpha", 1.5), augment.number(params, "mixup_beta", 1.5)
    if alpha <= 0 or beta <= 0:
        raise EngineError(f"training parameters mixup_alpha={alpha!r} and mixup_beta={beta!r} must be positive")
    return float(np.clip(rng.beta(alpha, beta), 0.0, 1.0))


def mixup(img: np.ndarray, objects: list[Obj], other: np.ndarray, other_objects: list[Obj],
          factor: float) -> tuple[np.ndarray, list[Obj], np.ndarray]:
    """(blended image, objects of both, their scores): `img` weighted `factor`, both at the top-left corner."""
    if factor >= 1.0:
        return img, objects, np.ones(len(objects), np.float32)
    if factor <= 0.0:
        return other, other_objects, np.ones(len(other_objects), np.float32)
    h, w = max(img.shape[0], other.shape[0]), max(img.shape[1], other.shape[1])
    canvas = np.zeros((h, w, img.shape[2]), np.float32)
    canvas[:img.shape[0], :img.shape[1]] += img.astype(np.float32) * factor
    canvas[:other.shape[0], :other.shape[1]] += other.astype(np.float32) * (1.0 - factor)
    scores = np.concatenate([np.full(len(objects), factor, np.float32),
                             np.full(len(other_objects), 1.0 - factor, np.float32)])
    return canvas.astype(img.dtype), objects + other_objects, scores


def _expand(img: np.ndarray, boxes: np.ndarray, polys: list, params: dict[str, Any],
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list]:
    """Place the image at a random spot of a canvas up to 4x its size, filled with the mean colour."""
    if rng.random() >= augment.probability(params, "expand_image", True, augment.number(params, "expand_prob", 0.5)):
        return img, boxes, polys
    ratio = rng.uniform(1.0, MAX_EXPAND)
    h, w = img.shape[:2]
    nh, nw = int(h * ratio), int(w * ratio)
    y, x = int(rng.integers(0, nh - h + 1)), int(rng.integers(0, nw - w + 1))
    mean = np.array(params.get("image_mean") or [0.485, 0.456, 0.406], dtype=np.float32)[:3]
    canvas = np.empty((nh, nw, img.shape[2]), dtype=img.dtype)
    canvas[...] = (np.resize(mean, img.shape[2]) * 255).astype(img.dtype)
    canvas[y:y + h, x:x + w] = img
    shift = np.array([x, y, x, y], dtype=np.float32)
    return canvas, boxes + shift, [[p + shift[:2] for p in obj] for obj in polys]


def _crop(img: np.ndarray, boxes: np.ndarray, keep_arrays: list[np.ndarray], polys: list, params: dict[str, Any],
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list]:
    """A random crop (0.3-1 of each side) keeping the objects whose centres it contains (at least one)."""
    if not augment.flag(params, "crop_image", True) or len(boxes) == 0:
        return img, boxes, keep_arrays, polys
    h, w = img.shape[:2]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    for _ in range(20):
        ch, cw = int(h * rng.uniform(0.3, 1.0)), int(w * rng.uniform(0.3, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        inside = (centres[:, 0] > x) & (centres[:, 0] < x + cw) & (centres[:, 1] > y) & (centres[:, 1] < y + ch)
        if inside.any():
            shift = np.array([x, y, x, y], dtype=np.float32)
            kept = np.clip(boxes[inside] - shift, 0, [cw, ch, cw, ch])
            kept_polys = [[np.clip(p - shift[:2], 0, [cw, ch]) for p in obj] for obj, i in zip(polys, inside) if i]
            return img[y:y + ch, x:x + cw], kept, [a[inside] for a in keep_arrays], kept_polys
    return img, boxes, keep_arrays, polys


def _flip(img: np.ndarray, boxes: np.ndarray, polys: list, params: dict[str, Any],
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list]:
    if rng.random() >= augment.probability(params, "horizontal_flip"):
        return img, boxes, polys
    w = img.shape[1]
    flipped = boxes.copy()
    flipped[:, 0], flipped[:, 2] = w - boxes[:, 2], w - boxes[:, 0]
    return img[:, ::-1], flipped, [[np.stack([w - p[:, 0], p[:, 1]], axis=1) for p in obj] for obj in polys]


def _finish(img: np.ndarray, boxes: np.ndarray, classes: np.ndarray, difficult: np.ndarray, polys: list,
            params: dict[str, Any], orig: np.ndarray | None = None,
            scores: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Resize to image_shape, scale the annotations with it, normalise."""
    width, height = augment.image_shape(params, (608, 608))
    h, w = img.shape[:2]
    sx, sy = width / w, height / h
    scale = np.array([sx, sy, sx, sy], dtype=np.float32)
    target = {"gt_bbox": (boxes * scale).astype(np.float32), "gt_class": classes.astype(np.int32),
              "gt_score": np.ones(len(boxes), np.float32) if scores is None else scores.astype(np.float32),
              "difficult": difficult, "gt_poly": [[p * scale[:2] for p in obj] for obj in polys],
              "im_shape": np.array([height, width], dtype=np.float32),
              "scale_factor": np.array([sy, sx], dtype=np.float32)}
    if orig is not None:
        target["orig_bbox"] = orig
    return augment.normalize(augment.resize(np.ascontiguousarray(img), (width, height)), params), target


def train_sample(img: np.ndarray, objects: list[Obj], params: dict[str, Any], rng: np.random.Generator,
                 scores: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """An augmented training sample (`scores`: the objects' mixup weights, 1 when None)."""
    boxes, classes, difficult, polys = arrays(objects)
    scores = np.ones(len(objects), np.float32) if scores is None else scores
    img = augment.distort(img, params, rng)
    img, boxes, polys = _expand(img, boxes, polys, params, rng)
    img, boxes, (classes, difficult, scores), polys = _crop(img, boxes, [classes, difficult, scores], polys, params, rng)
    img, boxes, polys = _flip(img, boxes, polys, params, rng)
    return _finish(img, boxes, classes, difficult, polys, params, scores=scores)


def eval_sample(img: np.ndarray, objects: list[Obj], params: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """An evaluation sample (resized only), with the boxes of the original image kept for the metric."""
    boxes, classes, difficult, polys = arrays(objects)
    if img.ndim != 3:
        raise EngineError("detection images must have colour channels")
    return _finish(img, boxes, classes, difficult, polys, params, orig=boxes.copy())
