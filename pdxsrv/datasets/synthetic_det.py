"""Detection (VOC XML, COCO boxes) and instance segmentation (COCO polygons or uncompressed RLE) generators."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from pdxsrv.datasets.synthetic_common import (
    Manifest, Options, image_name, split_paths, write_bytes, write_image, write_json, write_lists, write_text,
)
from pdxsrv.datasets.synthetic_draw import Shape, class_names, scene

OBJECTS = (1, 3)


def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO uncompressed RLE counts: run lengths over the column-major (Fortran) flattening, zeros first."""
    flat = np.asarray(mask, dtype=bool).flatten(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges).tolist()
    return ([0] + counts) if flat.size and flat[0] else counts


def voc_xml(file_name: str, size: int, labels: list[str], shapes: list[Shape]) -> bytes:
    """A VOC annotation; boxes are inclusive 0-based pixel indices of the drawn shape."""
    objs = []
    for s in shapes:
        x0, y0, x1, y1 = s.box()
        objs.append(
            f"  <object>\n    <name>{escape(labels[s.cls])}</name>\n    <pose>Unspecified</pose>\n"
            f"    <truncated>0</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"
            f"      <xmin>{x0}</xmin>\n      <ymin>{y0}</ymin>\n      <xmax>{x1}</xmax>\n      <ymax>{y1}</ymax>\n"
            f"    </bndbox>\n  </object>\n"
        )
    text = (
        f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{escape(file_name)}</filename>\n"
        f"  <size>\n    <width>{size}</width>\n    <height>{size}</height>\n    <depth>3</depth>\n  </size>\n"
        f"  <segmented>0</segmented>\n{''.join(objs)}</annotation>\n"
    )
    return text.encode("utf-8")


def coco_annotation(ann_id: int, image_id: int, s: Shape, segmentation: str | None) -> dict[str, Any]:
    """One COCO annotation: bbox [x, y, w, h] covering the shape's pixels, area = its pixel count."""
    x0, y0, x1, y1 = s.box()
    ann: dict[str, Any] = {
        "id": ann_id, "image_id": image_id, "category_id": s.cls + 1, "iscrowd": 0,
        "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1], "area": s.area(),
    }
    if segmentation == "polygon":
        ann["segmentation"] = [s.poly.reshape(-1).astype(int).tolist()]
    elif segmentation == "rle":
        ann["segmentation"] = {"counts": rle_counts(s.mask), "size": list(s.mask.shape)}
    return ann


def coco_document(
    entries: list[tuple[int, str, list[Shape]]], labels: list[str], size: int, segmentation: str | None,
) -> dict[str, Any]:
    """A COCO document of (image id, file name, shapes); category id = label index + 1, ann id = 100 image + k + 1."""
    images, anns = [], []
    for image_id, file_name, shapes in entries:
        images.append({"id": image_id, "file_name": file_name, "width": size, "height": size})
        for k, s in enumerate(shapes):
            anns.append(coco_annotation(image_id * 100 + k + 1, image_id, s, segmentation))
    cats = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(labels)]
    return {"images": images, "annotations": anns, "categories": cats}


def generate(opts: Options) -> Manifest:
    """Write a detection (voc, coco) or instance segmentation (coco, coco_rle) dataset under JPEGImages/."""
    labels = class_names(opts.classes)
    man = Manifest(opts.kind, opts.fmt, labels, [], {name: 0 for name in labels}, tricky=opts.tricky)
    voc = opts.fmt == "voc"
    entries: dict[str, tuple[int, str, list[Shape]]] = {}
    for i in range(opts.images):
        img, shapes = scene(opts.seed, i, opts.size, opts.classes, objects=OBJECTS, first=i % opts.classes)
        name = image_name(i, opts.tricky, rejectable=voc)
        rel = name.rel("JPEGImages")
        write_image(opts.root, rel, img)
        ann = f"Annotations/{name.stem}.xml" if voc else "annotations.json"
        if voc:
            write_bytes(opts.root, ann, voc_xml(name.stem + name.ext, opts.size, labels, shapes))
        if not name.accepted:
            man.skipped.append(rel)
            continue
        man.images.append(rel)
        man.annotations[rel] = ann
        entries[rel] = (i + 1, name.stem + name.ext, shapes)
        for s in shapes:
            man.per_class[labels[s.cls]] += 1
    if opts.presplit:
        man.split = split_paths(man.images, opts.seed)
    if voc:
        if opts.presplit:
            write_text(opts.root, "labels.txt", labels)
            write_lists(opts.root, man.split, man.annotations)
        return man
    segmentation = None if opts.kind == "detection" else ("rle" if opts.fmt == "coco_rle" else "polygon")
    if not opts.presplit:
        doc = coco_document(list(entries.values()), labels, opts.size, segmentation)
        write_json(opts.root, "annotations.json", doc)
        return man
    for part, paths in man.split.items():
        if paths or part != "test":
            doc = coco_document([entries[p] for p in paths], labels, opts.size, segmentation)
            write_json(opts.root, f"{part}.json", doc)
            man.annotations.update({p: f"{part}.json" for p in paths})
    return man
