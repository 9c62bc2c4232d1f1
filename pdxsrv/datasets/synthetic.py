"""Small, learnable, exactly annotated synthetic datasets in every on-disk format the original imported.

`make(kind, root, fmt=...)` writes one dataset into an empty or missing directory and returns a `Manifest`.
Same arguments (seed included) give byte-identical files; detection, segmentation and instance segmentation
with the same seed, size, images and classes draw the very same scenes (image i is seeded by (seed, i)).

Conventions an importer can rely on:
* Images are `img_NNNN.jpg` (JPEG quality 95). Shape classes are `circle, square, triangle, star, hexagon,
  cross, diamond, pentagon` (the first `classes`), and labels are always the *sorted* names; label index =
  position in that list. Classification image i has class `labels[i % classes]`; in the other shape kinds the
  first object of image i has that class, so every class occurs.
* classification/folders, digits: `<label>/img_NNNN.jpg` (digits: labels '0'..'K-1', sklearn's 8x8 digits
  upscaled with bicubic interpolation, grey as 3-channel). Presplit adds `labels.txt` and
  `train_list.txt`/`val_list.txt`(/`test_list.txt` when non-empty) with lines `<relpath> <label index>`.
* detection/voc: `JPEGImages/img_NNNN.jpg` + `Annotations/img_NNNN.xml`; `<bndbox>` xmin/ymin/xmax/ymax are
  0-based *inclusive* pixel indices of the drawn shape (width = xmax - xmin + 1). Presplit: `labels.txt` +
  lists `JPEGImages/x.jpg Annotations/x.xml`.
* detection/coco, instance_segmentation/coco|coco_rle: `JPEGImages/` + `annotations.json` (presplit:
  `train.json`, `val.json`, `test.json` when non-empty, no annotations.json). `file_name` is the bare name in
  JPEGImages; image id = i + 1; category id = label index + 1; bbox = [xmin, ymin, w, h] covering the shape's
  pixels (inclusive box, w = xmax - xmin + 1); area = pixel count; iscrowd = 0 (also for RLE). Polygons are
  the integer vertices the shape was filled from with `cv2.fillPoly` (LINE_8): re-filling them reproduces the
  mask exactly (pycocotools' rasteriser may differ on boundary pixels). RLE is uncompressed,
  `{"counts": [...], "size": [h, w]}`, runs over the column-major flattening starting with a zero run.
* segmentation/png, png_nolabels: `JPEGImages/img_NNNN.jpg` + `Annotations/img_NNNN.png` (8-bit grey), pixel =
  label index (0 background, shape class k -> k + 1), 255 = ignore ring 1-2 px wide outside some shapes.
  `png` writes `labels.txt` (`background` then the sorted shape names); `png_nolabels` does not, and its labels
  are '0'..'K'. Presplit lists: `JPEGImages/x.jpg Annotations/x.png`.
* remote_segmentation/tif, npy: `JPEGImages/img_NNNN.tif` (uint16 reflectance x 10000, H x W x bands, contig,
  minisblack; a 1-band tif is stored H x W) or `.npy` (float32 reflectance 0..1, always H x W x bands);
  `Annotations/img_NNNN.png`; `labels.txt` = `background, water, forest, crop, ...` (pixel value = line
  index); spectra are fixed per (class, band count), not per seed, and every band alone separates the classes.
* Tricky layouts (`fmt` ending in `_tricky`, or `tricky=True`; unsplit only) mix `.png`, `.bmp`, `.JPEG`,
  a space in a file name, files the original rejects (`.Jpg`, and for classification a nested
  `<label>/nested/` file and a stray root image). Rejected files are listed in `Manifest.skipped`, not in
  `images` or `per_class`. COCO tricky datasets contain no rejected files.
"""

from __future__ import annotations

import os
from typing import Callable

from pdxsrv.datasets import synthetic_cls, synthetic_det, synthetic_seg
from pdxsrv.datasets.synthetic_common import Manifest, Options, prepare_root

__all__ = ["FORMATS", "KINDS", "Manifest", "make"]

FORMATS: dict[str, tuple[str, ...]] = {
    "classification": ("folders", "digits"),
    "detection": ("voc", "coco"),
    "segmentation": ("png", "png_nolabels"),
    "instance_segmentation": ("coco", "coco_rle"),
    "remote_segmentation": ("tif", "npy"),
}
KINDS: tuple[str, ...] = tuple(FORMATS)
TRICKY_SUFFIX = "_tricky"
# (kind, format) -> (least, most) classes; the kind alone when every format agrees.
CLASS_RANGE: dict[str, tuple[int, int]] = {
    "classification": (2, 8), "classification/digits": (2, 10), "detection": (1, 8), "segmentation": (1, 8),
    "instance_segmentation": (1, 8), "remote_segmentation": (1, 8),
}

_GENERATORS: dict[str, Callable[[Options], Manifest]] = {
    "classification": synthetic_cls.generate,
    "detection": synthetic_det.generate,
    "segmentation": synthetic_seg.generate_png,
    "instance_segmentation": synthetic_det.generate,
    "remote_segmentation": synthetic_seg.generate_remote,
}


def resolve_format(kind: str, fmt: str | None, tricky: bool = False) -> tuple[str, bool]:
    """The base format and the tricky flag for a kind and an optional (possibly `_tricky`) format name."""
    if kind not in FORMATS:
        raise ValueError(f"unknown dataset type {kind!r}; one of: {', '.join(KINDS)}")
    if fmt is None:
        return FORMATS[kind][0], tricky
    base = fmt[: -len(TRICKY_SUFFIX)] if fmt.endswith(TRICKY_SUFFIX) else fmt
    if base not in FORMATS[kind]:
        raise ValueError(f"unknown format {fmt!r} for {kind}; one of: {', '.join(FORMATS[kind])}")
    return base, tricky or base != fmt


def make(
    kind: str, root: str, *, fmt: str | None = None, seed: int = 0, images: int = 24, size: int = 64,
    classes: int = 3, presplit: bool = False, tricky: bool = False, bands: int = 4,
) -> Manifest:
    """Write a synthetic dataset of `kind` into `root` (created; must be missing or empty) and describe it."""
    base, tricky = resolve_format(kind, fmt, tricky)
    if images < 1:
        raise ValueError("images must be at least 1")
    if size < 32:
        raise ValueError("size must be at least 32")
    if not 1 <= bands <= 64:
        raise ValueError("bands must be between 1 and 64")
    if tricky and presplit:
        raise ValueError("tricky layouts are unsplit only")
    if tricky and kind == "remote_segmentation":
        raise ValueError("remote_segmentation has no tricky layout")
    least, most = CLASS_RANGE.get(f"{kind}/{base}", CLASS_RANGE[kind])
    if not least <= classes <= most:
        raise ValueError(f"classes must be between {least} and {most} for {kind}/{base}")
    if presplit and images < 2:
        raise ValueError("a pre-split dataset needs at least 2 images")
    if kind != "remote_segmentation":
        bands = 3
    opts = Options(kind, base, os.path.abspath(root), seed, images, size, classes, presplit, tricky, bands)
    prepare_root(opts.root)
    return _GENERATORS[kind](opts)
