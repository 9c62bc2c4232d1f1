"""COCO JSON reading shared by the detection and instance segmentation readers (no pycocotools), plus image sizes."""

from __future__ import annotations

import json
import math
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from pdxsrv.datasets.scan import PARTS, DatasetError, Progress, Scan, is_image, size_stats

IMAGE_DIR = "JPEGImages"


def load_json(root: str, name: str) -> Any:
    """The parsed JSON file `name` of the dataset; bad syntax is an error with its line and column."""
    try:
        with open(os.path.join(root, name), encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetError(name, f"is not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(name, f"is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(name, f"cannot be read ({exc.strerror})") from None


def image_size(root: str, rel: str) -> tuple[int, int]:
    """(width, height) of an image, from its header only."""
    try:
        with Image.open(os.path.join(root, rel)) as img:
            return img.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(rel, f"cannot be read as an image ({exc})") from None


def has(root: str, rel: str) -> bool:
    """Whether the dataset holds `rel`."""
    return os.path.exists(os.path.join(root, rel))


def presplit_json(root: str) -> dict[str, str] | None:
    """{part: json file} of a pre-split COCO dataset (train.json and val.json required), or None if not pre-split."""
    if not (has(root, "train.json") or has(root, "val.json")):
        return None
    for name in ("train.json", "val.json"):
        if not has(root, name):
            raise DatasetError(name, "is missing: a pre-split COCO dataset needs train.json and val.json")
    return {part: f"{part}.json" for part in PARTS if has(root, f"{part}.json")}


def inside(root: str, rel: str) -> str | None:
    """`rel` normalised to a `/` path inside the dataset, or None when it is absolute or climbs out."""
    path = rel.replace("\\", "/")
    if not path or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return None
    norm = posixpath.normpath(path)
    return None if norm == ".." or norm.startswith("../") else norm


def is_int(value: Any) -> bool:
    """Whether a JSON value is an integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether a JSON value is a finite number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def rle_string_counts(text: str) -> list[int] | None:
    """Decode COCO's compressed RLE string into run lengths; None when it is malformed."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        value, shift, more = 0, 0, True
        while more:
            if p >= len(text):
                return None
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                return None
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            p += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def check_segmentation(seg: Any, size: tuple[int, int]) -> str | None:
    """What is wrong with an annotation's segmentation (polygons or RLE) for an image of (width, height)."""
    if isinstance(seg, list):
        if not seg:
            return "has an empty segmentation"
        for k, poly in enumerate(seg, 1):
            if not isinstance(poly, list) or not all(is_number(v) for v in poly):
                return f"polygon {k} is not a list of numbers"
            if len(poly) % 2 or len(poly) < 6:
                return f"polygon {k} has {len(poly)} numbers, expected an even count of at least 6 (3 points)"
        return None
    if not isinstance(seg, dict):
        return "has no segmentation (polygons or RLE)" if seg is None else "segmentation is neither polygons nor RLE"
    hw = seg.get("size")
    if not (isinstance(hw, list) and len(hw) == 2 and all(is_int(v) for v in hw)):
        return "RLE has no \"size\": [height, width]"
    if (hw[1], hw[0]) != tuple(size):
        return f"RLE size {hw} does not match the image's [height, width] [{size[1]}, {size[0]}]"
    raw = seg.get("counts")
    counts = rle_string_counts(raw) if isinstance(raw, str) else raw
    if not isinstance(counts, list) or not all(is_int(v) and v >= 0 for v in counts):
        return "RLE \"counts\" is neither a list of non-negative integers nor a valid compressed string"
    if sum(counts) != hw[0] * hw[1]:
        return f"RLE counts add up to {sum(counts)} pixels, expected {hw[0]} x {hw[1]} = {hw[0] * hw[1]}"
    return None


@dataclass
class CocoFile:
    """One checked COCO document: categories, its images (relative paths) and which labels each image holds."""

    name: str
    categories: dict[int, str]
    images: dict[int, str] = field(default_factory=dict)
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    labels_of: dict[int, set[str]] = field(default_factory=dict)
    crowd: int = 0


def _list(doc: Any, name: str, key: str) -> list[Any]:
    """The list doc[key] or an error."""
    if not isinstance(doc, dict):
        raise DatasetError(name, "is not a COCO document (expected a JSON object with images, annotations, categories)")
    value = doc.get(key)
    if not isinstance(value, list):
        raise DatasetError(name, f"has no \"{key}\" list")
    return value


def _categories(name: str, doc: Any) -> dict[int, str]:
    """Category id -> name; ids and names must be unique."""
    cats: dict[int, str] = {}
    for k, cat in enumerate(_list(doc, name, "categories")):
        cid = cat.get("id") if isinstance(cat, dict) else None
        cname = cat.get("name") if isinstance(cat, dict) else None
        if not is_int(cid) or not isinstance(cname, str) or not cname.strip():
            raise DatasetError(name, f"categories[{k}] needs an integer \"id\" and a non-empty \"name\"")
        if cid in cats:
            raise DatasetError(name, f"category id {cid} appears twice")
        if cname in cats.values():
            raise DatasetError(name, f"category name '{cname}' is used by two ids")
        cats[cid] = cname
    if not cats:
        raise DatasetError(name, "has no categories")
    return cats


def _image(root: str, name: str, k: int, img: Any, image_dir: bool) -> tuple[int, str, str]:
    """(id, file_name, resolved relative path or '' when the file is missing) of images[k]."""
    iid = img.get("id") if isinstance(img, dict) else None
    fname = img.get("file_name") if isinstance(img, dict) else None
    if not is_int(iid) or not isinstance(fname, str):
        raise DatasetError(name, f"images[{k}] needs an integer \"id\" and a \"file_name\"")
    rel = inside(root, fname)
    if rel is None:
        raise DatasetError(name, f"image id {iid}: file_name '{fname}' points outside the dataset")
    if not is_image(rel):
        raise DatasetError(name, f"image id {iid}: file_name '{fname}' is not an image file name")
    options = [f"{IMAGE_DIR}/{rel}"] + ([] if image_dir else [rel])
    found = next((p for p in options if os.path.isfile(os.path.join(root, p))), "")
    return iid, fname, found


def read_coco(
    root: str, name: str, *, segmentation: bool, image_dir: bool, progress: Progress | None = None,
) -> CocoFile:
    """Check the COCO file `name`; image files live in JPEGImages/ (or, unless `image_dir`, in the root)."""
    doc = load_json(root, name)
    out = CocoFile(name, _categories(name, doc))
    missing: list[tuple[int, str]] = []
    by_path: dict[str, int] = {}
    images = _list(doc, name, "images")
    for k, img in enumerate(images):
        iid, fname, rel = _image(root, name, k, img, image_dir)
        if iid in out.images or any(iid == m for m, _ in missing):
            raise DatasetError(name, f"image id {iid} appears twice")
        if not rel:
            missing.append((iid, fname))
            continue
        if rel in by_path:
            raise DatasetError(name, f"image ids {by_path[rel]} and {iid} both name the file {rel}")
        by_path[rel] = iid
        out.images[iid], out.labels_of[iid] = rel, set()
        w, h = img.get("width"), img.get("height")
        if w is None or h is None:
            out.sizes[iid] = image_size(root, rel)
        elif is_number(w) and is_number(h) and w > 0 and h > 0:
            out.sizes[iid] = (int(w), int(h))
        else:
            raise DatasetError(name, f"image id {iid}: width {w!r} and height {h!r} must be positive numbers")
        if progress:
            progress(k + 1, len(images))
    if missing:
        where = f"{IMAGE_DIR}/" if image_dir else f"{IMAGE_DIR}/ or the dataset root"
        more = f" (and {len(missing) - 1} more annotated images have no file)" if len(missing) > 1 else ""
        raise DatasetError(name, f"image id {missing[0][0]}: file '{missing[0][1]}' is not in {where}{more}")
    _annotations(name, doc, out, segmentation)
    return out


def _annotations(name: str, doc: Any, out: CocoFile, segmentation: bool) -> None:
    """Check every annotation and record which labels each image holds (crowd annotations are not counted)."""
    seen: set[int] = set()
    for k, ann in enumerate(_list(doc, name, "annotations")):
        aid = ann.get("id") if isinstance(ann, dict) else None
        if not is_int(aid):
            raise DatasetError(name, f"annotations[{k}] has no integer \"id\"")
        if aid in seen:
            raise DatasetError(name, f"annotation id {aid} appears twice")
        seen.add(aid)
        iid, cid = ann.get("image_id"), ann.get("category_id")
        if not is_int(iid) or iid not in out.images:
            raise DatasetError(name, f"annotation id {aid}: image_id {iid!r} is not in \"images\"")
        if not is_int(cid) or cid not in out.categories:
            raise DatasetError(name, f"annotation id {aid}: category_id {cid!r} is not in \"categories\"")
        box = ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(is_number(v) for v in box)):
            raise DatasetError(name, f"annotation id {aid}: bbox {box!r} is not 4 numbers [x, y, width, height]")
        if box[2] <= 0 or box[3] <= 0:
            raise DatasetError(name, f"annotation id {aid}: bbox {box!r} has a width or height that is not positive")
        if segmentation:
            problem = check_segmentation(ann.get("segmentation"), out.sizes[iid])
            if problem:
                raise DatasetError(name, f"annotation id {aid}: {problem}")
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1) or isinstance(crowd, float):
            raise DatasetError(name, f"annotation id {aid}: iscrowd {crowd!r} is not 0 or 1")
        if crowd:
            out.crowd += 1
        else:
            out.labels_of[iid].add(out.categories[cid])


def scan_coco(
    root: str, kind: str, names: dict[str, str] | str, *, segmentation: bool, image_dir: bool,
    progress: Progress | None = None,
) -> Scan:
    """A Scan of one COCO file (`names` a str) or of pre-split files ({"train": "train.json", ...})."""
    parts = {"all": names} if isinstance(names, str) else names
    read = {part: read_coco(root, n, segmentation=segmentation, image_dir=image_dir, progress=progress)
            for part, n in parts.items()}
    first = next(iter(read.values()))
    for coco in read.values():
        for cid, cname in coco.categories.items():
            if first.categories.get(cid) != cname:
                raise DatasetError(coco.name, f"category id {cid} ('{cname}') differs from {first.name}")
    labels = [first.categories[cid] for cid in sorted(first.categories)]
    file_info: dict[str, str] = {}
    label_info: dict[str, list[str]] = {label: [] for label in labels}
    sizes: list[tuple[int, int]] = []
    split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for part, coco in read.items():
        for iid, rel in coco.images.items():
            if rel in file_info:
                raise DatasetError(coco.name, f"image id {iid}: {rel} is also in {file_info[rel]}")
            file_info[rel] = coco.name
            sizes.append(coco.sizes[iid])
            for label in coco.labels_of[iid]:
                label_info[label].append(rel)
            if part != "all":
                split[part].append(rel)
    if not file_info:
        raise DatasetError(first.name, "lists no images")
    for images in label_info.values():
        images.sort()
    files = sorted(set(file_info) | {c.name for c in read.values()})
    stats = size_stats(sizes)
    stats["crowd_annotations"] = sum(c.crowd for c in read.values())
    return Scan(kind, labels, dict(sorted(file_info.items())), label_info, files,
                None if isinstance(names, str) else split, 3, stats)
