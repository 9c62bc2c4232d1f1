"""Label visualisation (GET /file with `did`): an imported image with its labels drawn, as PNG bytes.

classification: the class name on a banner; detection: boxes and names (VOC XML or COCO);
segmentation: the label mask in the PASCAL VOC colours blended 50/50 (255 = ignore left as is);
remote sensing: three bands (the first three, or the given ones) stretched to 0..255, then as
segmentation; instance segmentation: each object's mask (polygons or RLE) blended, and its box.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from typing import Any

import cv2
import numpy as np

from pdxsrv.datasets.coco import rle_string_counts


def palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map (BGR), index = label value."""
    colours = np.zeros((n, 3), dtype=np.uint8)
    for value in range(n):
        c, r, g, b = value, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colours[value] = (b, g, r)
    return colours


PALETTE = palette()


def render(dataset_dir: str, dataset_type: str, image: str, annotation: str, labels: list[str],
           bands: tuple[int, ...] = (0, 1, 2)) -> bytes:
    """PNG bytes of `image` (relative to the dataset) with its labels drawn."""
    if dataset_type == "remote_segmentation":
        picture = _bands(os.path.join(dataset_dir, image), bands)
    else:
        picture = cv2.imread(os.path.join(dataset_dir, image), cv2.IMREAD_COLOR)
    if picture is None:
        raise ValueError(f"{image} cannot be decoded")
    drawn = RENDERERS[dataset_type](picture, dataset_dir, image, annotation, labels)
    ok, png = cv2.imencode(".png", drawn)
    if not ok:
        raise ValueError(f"{image} cannot be encoded as PNG")
    return png.tobytes()


def _classification(img: np.ndarray, root: str, image: str, label: str, labels: list[str]) -> np.ndarray:
    colour = tuple(int(v) for v in PALETTE[labels.index(label) + 1]) if label in labels else (255, 255, 255)
    height = max(14, img.shape[0] // 8)
    cv2.rectangle(img, (0, 0), (img.shape[1] - 1, height), colour, -1)
    cv2.putText(img, label, (2, height - 3), cv2.FONT_HERSHEY_SIMPLEX, height / 30, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def _box(img: np.ndarray, box: tuple[float, ...], name: str, index: int) -> None:
    colour = tuple(int(v) for v in PALETTE[index + 1])
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(img, (x1, y1), (x2, y2), colour, 1)
    cv2.putText(img, name, (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, colour, 1, cv2.LINE_AA)


def _detection(img: np.ndarray, root: str, image: str, annotation: str, labels: list[str]) -> np.ndarray:
    if annotation.lower().endswith(".xml"):
        for obj in ElementTree.parse(os.path.join(root, annotation)).getroot().iter("object"):
            name, bb = obj.findtext("name", ""), obj.find("bndbox")
            box = tuple(float(bb.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
            _box(img, box, name, labels.index(name) if name in labels else len(labels))
        return img
    return _coco(img, root, image, annotation, labels, masks=False)


def _coco(img: np.ndarray, root: str, image: str, annotation: str, labels: list[str], masks: bool = True) -> np.ndarray:
    with open(os.path.join(root, annotation), encoding="utf-8") as f:
        doc = json.load(f)
    names = {c["id"]: c["name"] for c in doc.get("categories", [])}
    ids = {i["id"] for i in doc.get("images", []) if image in (i["file_name"], f"JPEGImages/{i['file_name']}")}
    overlay = img.copy()
    for ann in doc.get("annotations", []):
        if ann.get("image_id") not in ids:
            continue
        name = names.get(ann.get("category_id"), "?")
        index = labels.index(name) if name in labels else len(labels)
        if masks:
            overlay[_mask(ann.get("segmentation"), img.shape[:2])] = PALETTE[index + 1]
        x, y, w, h = ann["bbox"]
        _box(img, (x, y, x + w - 1, y + h - 1), name, index)
    return cv2.addWeighted(img, 0.5, overlay, 0.5, 0) if masks else img


def _mask(segmentation: Any, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    if isinstance(segmentation, list):
        for polygon in segmentation:
            points = np.round(np.array(polygon, dtype=np.float64).reshape(-1, 2)).astype(np.int32)
            cv2.fillPoly(mask, [points], 1)
    elif isinstance(segmentation, dict):
        counts = segmentation["counts"]
        counts = rle_string_counts(counts) if isinstance(counts, str) else counts
        flat = np.zeros(shape[0] * shape[1], dtype=np.uint8)
        position = 0
        for run, value in zip(counts, [0, 1] * len(counts)):
            flat[position : position + run] = value
            position += run
        mask = flat.reshape((shape[1], shape[0])).T.copy()  # column-major
    return mask.astype(bool)


def _segmentation(img: np.ndarray, root: str, image: str, annotation: str, labels: list[str]) -> np.ndarray:
    label = cv2.imread(os.path.join(root, annotation), cv2.IMREAD_UNCHANGED)
    coloured = PALETTE[label]
    blended = cv2.addWeighted(img, 0.5, coloured, 0.5, 0)
    keep = (label == 0) | (label == 255)
    blended[keep] = img[keep]
    return blended


def _instance(img: np.ndarray, root: str, image: str, annotation: str, labels: list[str]) -> np.ndarray:
    return _coco(img, root, image, annotation, labels, masks=True)


def _bands(path: str, bands: tuple[int, ...]) -> np.ndarray:
    if path.lower().endswith(".npy"):
        raster = np.load(path, allow_pickle=False)
    else:
        import tifffile

        raster = tifffile.imread(path)
    if raster.ndim == 2:
        raster = raster[:, :, None]
    chosen = [raster[:, :, min(b, raster.shape[2] - 1)].astype(np.float64) for b in bands[:3]]
    stretched = [(c - c.min()) / (np.ptp(c) or 1) * 255 for c in chosen]
    return np.ascontiguousarray(np.stack(stretched[::-1], axis=2).astype(np.uint8))  # RGB bands -> BGR


RENDERERS = {
    "classification": _classification,
    "detection": _detection,
    "segmentation": _segmentation,
    "remote_segmentation": _segmentation,
    "instance_segmentation": _instance,
}
