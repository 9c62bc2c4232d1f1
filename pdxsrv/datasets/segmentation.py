"""Semantic segmentation reader: `JPEGImages/` + `Annotations/*.png` single-channel label maps (255 = ignore).

`scan_pairs` is the shared engine; the remote-sensing reader (`remote.py`) calls it with its own image reader.
"""

from __future__ import annotations

import os
import posixpath
import warnings
from typing import Callable

import numpy as np
from PIL import Image

from pdxsrv.datasets.classification import decode, listed_file, read_labels
from pdxsrv.datasets.scan import PARTS, DatasetError, Progress, Scan, is_image, size_stats, split_rows, walk

IGNORE = 255
IMAGES, ANNOTATIONS = "JPEGImages", "Annotations"
LABEL_MODES = ("L", "P")
ImageReader = Callable[[str, str], tuple[int, int, int]]  # (root, rel) -> (width, height, bands)


def read_label(root: str, rel: str) -> tuple[int, int, list[int]]:
    """(width, height, distinct pixel values) of a single-channel label PNG."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(os.path.join(root, rel)) as im:
                if im.format != "PNG":
                    raise DatasetError(rel, f"is not a PNG file (it is {im.format or 'unknown'}); labels must be PNG")
                if im.mode not in LABEL_MODES:
                    raise DatasetError(
                        rel, f"has {len(im.getbands())} channel(s) (mode {im.mode}); a label must be a single-channel "
                        "8-bit PNG (grey or palette) whose pixel values are class indices"
                    )
                data = np.asarray(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DatasetError(rel, f"is not a readable PNG (corrupt or truncated: {exc})") from None
    height, width = data.shape[:2]
    return width, height, [int(v) for v in np.unique(data)]


def _require_dirs(root: str) -> None:
    """Both JPEGImages/ and Annotations/ must exist; say which is missing (and a wrong-case look-alike)."""
    if not os.path.isdir(root):
        raise DatasetError(".", f"{root} is not a directory")
    for name in (IMAGES, ANNOTATIONS):
        if os.path.isdir(os.path.join(root, name)):
            continue
        present = os.listdir(root)
        alike = [p for p in present if p.lower() == name.lower()]
        hint = f" (found {alike[0]}/; the name is case-sensitive)" if alike else ""
        raise DatasetError(f"{name}/", f"is missing{hint}: images go in {IMAGES}/ and their label PNGs, same "
                           f"relative path and name with .png, in {ANNOTATIONS}/")


def _pairs_unsplit(root: str, wanted: Callable[[str], bool]) -> dict[str, str]:
    """image -> annotation for every image under JPEGImages/ (any depth)."""
    images: list[str] = []
    annotations: dict[str, str] = {}
    for rel in walk(root):
        if rel.startswith(IMAGES + "/") and wanted(rel):
            images.append(rel)
        elif rel.startswith(ANNOTATIONS + "/") and rel.lower().endswith(".png"):
            annotations[rel[: -len(".png")]] = rel
    if not images:
        raise DatasetError(f"{IMAGES}/", "contains no images")
    pairs: dict[str, str] = {}
    for image in images:
        stem = ANNOTATIONS + posixpath.splitext(image[len(IMAGES):])[0]
        if stem not in annotations:
            raise DatasetError(image, f"has no annotation: {stem}.png is missing")
        pairs[image] = annotations[stem]
    return pairs


def _pairs_presplit(root: str, wanted: Callable[[str], bool]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """image -> annotation and the split, from train_list.txt / val_list.txt (/ test_list.txt)."""
    if not os.path.isfile(os.path.join(root, "val_list.txt")):
        raise DatasetError(
            "val_list.txt", "is missing: a pre-split dataset (it has train_list.txt) also needs val_list.txt"
        )
    pairs: dict[str, str] = {}
    split: dict[str, list[str]] = {part: [] for part in PARTS}
    for part, name, number, first, second in split_rows(root):
        image = listed_file(root, name, number, first)
        if not wanted(image):
            raise DatasetError(name, f"{image} is not an image of a supported type", number)
        png = listed_file(root, name, number, second, "annotation")
        if not png.lower().endswith(".png"):
            raise DatasetError(name, f"annotation {png} is not a .png file", number)
        if pairs.get(image, png) != png:
            raise DatasetError(name, f"{image} is listed with annotation {png} here but {pairs[image]} before",
                               number)
        pairs[image] = png
        split[part].append(image)
    if not split["train"]:
        raise DatasetError("train_list.txt", "lists no images")
    return pairs, split


def scan_pairs(
    root: str, progress: Progress | None, kind: str, wanted: Callable[[str], bool], read_image: ImageReader,
    same_bands: bool,
) -> Scan:
    """Check image/label-PNG pairs and build the Scan; with `same_bands` every image must have one band count."""
    _require_dirs(root)
    split: dict[str, list[str]] | None = None
    extra: list[str] = []
    if os.path.isfile(os.path.join(root, "train_list.txt")):
        pairs, split = _pairs_presplit(root, wanted)
        extra = [f"{p}_list.txt" for p in PARTS if os.path.isfile(os.path.join(root, f"{p}_list.txt"))]
    else:
        pairs = _pairs_unsplit(root, wanted)
    names = read_labels(root) if os.path.isfile(os.path.join(root, "labels.txt")) else None
    if names is not None:
        extra.insert(0, "labels.txt")
    by_value: dict[int, list[str]] = {}
    sizes: list[tuple[int, int]] = []
    bands: tuple[int, str] | None = None
    total = len(pairs)
    for checked, (image, png) in enumerate(pairs.items(), 1):
        width, height, count = read_image(root, image)
        if same_bands and bands is not None and count != bands[0]:
            raise DatasetError(image, f"has {count} band(s) but {bands[1]} has {bands[0]}; every image must have "
                               "the same number of bands")
        bands = bands or (count, image)
        lw, lh, values = read_label(root, png)
        if (lw, lh) != (width, height):
            raise DatasetError(png, f"size {lw}x{lh} differs from its image {image} ({width}x{height})")
        for value in values:
            if value == IGNORE:
                continue
            if names is not None and value >= len(names):
                raise DatasetError(png, f"pixel value {value} has no class: labels.txt lists {len(names)} classes "
                                   f"(values 0..{len(names) - 1}; 255 = ignore)")
            by_value.setdefault(value, []).append(image)
        sizes.append((width, height))
        if progress is not None:
            progress(checked, total)
    labels = names if names is not None else [str(v) for v in range(max(by_value) + 1)] if by_value else []
    label_info = {label: by_value.get(v, []) for v, label in enumerate(labels)}
    return Scan(
        type=kind, labels=labels, file_info=pairs, label_info=label_info,
        files=list(dict.fromkeys([f for pair in pairs.items() for f in pair] + extra)), split=split,
        bands=bands[0] if same_bands and bands else 3, image_stats=size_stats(sizes),
    )


def scan(root: str, progress: Progress | None = None) -> Scan:
    """Check a semantic segmentation dataset and describe it."""
    return scan_pairs(root, progress, "segmentation", is_image, decode, same_bands=False)
