"""Semantic segmentation (PNG label maps with a 255 ignore ring) and multi-band remote sensing generators."""

from __future__ import annotations

import io
import math

import numpy as np

from pdxsrv.datasets.synthetic_common import (
    Manifest, Options, encode_image, image_name, split_paths, write_bytes, write_image, write_lists, write_text,
)
from pdxsrv.datasets.synthetic_draw import Shape, class_names, fill, place, polygon, ring, scene

IGNORE = 255
OBJECTS = (1, 3)
FIELD_NAMES = ("water", "forest", "crop", "urban", "grass", "bare", "wetland", "snow")
SPECTRA_SALT = 11
TIF_SCALE = 10000.0


def label_map(index: int, size: int, shapes: list[Shape]) -> np.ndarray:
    """Pixel = label index + 1 (0 background); shapes with (index + k) even get a 1-2 px ring of 255."""
    out = np.zeros((size, size), np.uint8)
    for s in shapes:
        out[s.mask] = s.cls + 1
    for k, s in enumerate(shapes):
        if (index + k) % 2 == 0:
            width = 1 + ((index + k) // 2) % 2
            out[ring(s.mask, width) & (out == 0)] = IGNORE
    return out


def _finish(opts: Options, man: Manifest, masks: dict[str, np.ndarray], with_labels: bool) -> Manifest:
    """Count images per class value, write labels.txt and the split lists."""
    for rel in man.images:
        for v in np.unique(masks[rel]):
            if v != IGNORE:
                man.per_class[man.labels[int(v)]] += 1
    if with_labels:
        write_text(opts.root, "labels.txt", man.labels)
    if opts.presplit:
        man.split = split_paths(man.images, opts.seed)
        write_lists(opts.root, man.split, man.annotations)
    return man


def generate_png(opts: Options) -> Manifest:
    """JPEGImages/<stem>.jpg + Annotations/<stem>.png; labels.txt (background first) unless png_nolabels."""
    names = class_names(opts.classes)
    with_labels = opts.fmt == "png"
    labels = ["background", *names] if with_labels else [str(v) for v in range(opts.classes + 1)]
    man = Manifest(opts.kind, opts.fmt, labels, [], {name: 0 for name in labels}, tricky=opts.tricky)
    masks: dict[str, np.ndarray] = {}
    for i in range(opts.images):
        img, shapes = scene(opts.seed, i, opts.size, opts.classes, objects=OBJECTS, first=i % opts.classes)
        name = image_name(i, opts.tricky)
        rel = name.rel("JPEGImages")
        png = f"Annotations/{name.stem}.png"
        write_image(opts.root, rel, img)
        masks[rel] = label_map(i, opts.size, shapes)
        write_image(opts.root, png, masks[rel])
        if not name.accepted:
            man.skipped.append(rel)
            continue
        man.images.append(rel)
        man.annotations[rel] = png
    return _finish(opts, man, masks, with_labels)


def spectra(classes: int, bands: int) -> np.ndarray:
    """Reflectance (0..1) per class (row 0 = background) and band; every band alone separates all classes."""
    levels = np.linspace(0.1, 0.9, classes + 1)
    cols = [levels if b == 0 else np.random.default_rng([bands, b, SPECTRA_SALT]).permutation(levels)
            for b in range(bands)]
    return np.stack(cols, axis=1)


def field_scene(opts: Options, index: int) -> tuple[np.ndarray, np.ndarray]:
    """A (size, size, bands) reflectance image of 2-4 fields on background, and its label map (0 background)."""
    rng = np.random.default_rng([opts.seed, index])
    size = opts.size
    label = np.zeros((size, size), np.uint8)
    spots = place(rng, size, int(rng.integers(2, 5)), (max(5.0, 0.12 * size), max(6.0, 0.25 * size)))
    for k, (cx, cy, r) in enumerate(spots):
        cls = index % opts.classes if k == 0 else int(rng.integers(opts.classes))
        theta = float(rng.uniform(-math.pi / 4, math.pi / 4))
        label[fill(polygon("field", cx, cy, r, theta), size, size)] = cls + 1
    sig = spectra(opts.classes, opts.bands)
    texture = rng.normal(0, 0.015, (size, size, opts.bands)) + rng.normal(0, 0.01, (1, 1, opts.bands))
    return np.clip(sig[label] + texture, 0.0, 1.0), label


def generate_remote(opts: Options) -> Manifest:
    """JPEGImages/<stem>.tif (uint16, reflectance x 10000; H x W when 1 band) or .npy (float32, 0..1), H x W x bands."""
    labels = ["background", *FIELD_NAMES[:opts.classes]]
    man = Manifest(opts.kind, opts.fmt, labels, [], {name: 0 for name in labels}, bands=opts.bands)
    masks: dict[str, np.ndarray] = {}
    for i in range(opts.images):
        cube, label = field_scene(opts, i)
        stem = f"img_{i:04d}"
        rel = f"JPEGImages/{stem}.{opts.fmt}"
        buf = io.BytesIO()
        if opts.fmt == "tif":
            import tifffile

            data = np.rint(cube * TIF_SCALE).astype(np.uint16)
            if opts.bands == 1:
                tifffile.imwrite(buf, data[..., 0], photometric="minisblack")
            else:
                tifffile.imwrite(buf, data, photometric="minisblack", planarconfig="contig")
        else:
            np.save(buf, cube.astype(np.float32), allow_pickle=False)
        write_bytes(opts.root, rel, buf.getvalue())
        png = f"Annotations/{stem}.png"
        write_bytes(opts.root, png, encode_image(label, ".png"))
        masks[rel] = label
        man.images.append(rel)
        man.annotations[rel] = png
    return _finish(opts, man, masks, True)
