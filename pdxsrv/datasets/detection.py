"""Detection reader: Pascal VOC (JPEGImages/ + Annotations/*.xml, or pre-split lists) and COCO boxes."""

from __future__ import annotations

import math
import os
import posixpath
import xml.etree.ElementTree as ET

from pdxsrv.datasets.coco import IMAGE_DIR, has, image_size, inside, presplit_json, scan_coco
from pdxsrv.datasets.scan import PARTS, DatasetError, Progress, Scan, is_image, read_lines, size_stats, split_rows, walk

ANNOTATION_DIR = "Annotations"
Box = tuple[float, float, float, float]


def scan(root: str, progress: Progress | None = None) -> Scan:
    """Check a detection dataset and describe it; VOC or COCO is told from the files present."""
    if not os.path.isdir(root):
        raise DatasetError(".", f"{root} is not a directory")
    if has(root, "train_list.txt"):
        return _voc_presplit(root, progress)
    names = presplit_json(root)
    if names is not None:
        return scan_coco(root, "detection", names, segmentation=False, image_dir=False, progress=progress)
    if has(root, "annotations.json"):
        return scan_coco(root, "detection", "annotations.json", segmentation=False, image_dir=False,
                         progress=progress)
    if os.path.isdir(os.path.join(root, ANNOTATION_DIR)):
        return _voc(root, progress)
    raise DatasetError(".", "is not a detection dataset: expected JPEGImages/ with Annotations/*.xml (VOC), "
                       "annotations.json or train.json + val.json (COCO), or train_list.txt + val_list.txt "
                       "+ labels.txt (pre-split VOC)")


def _require_dirs(root: str) -> None:
    """VOC needs JPEGImages/ and Annotations/."""
    for name in (IMAGE_DIR, ANNOTATION_DIR):
        if not os.path.isdir(os.path.join(root, name)):
            raise DatasetError(name, f"is missing: a VOC dataset keeps its images in {IMAGE_DIR}/ "
                               f"and its XML files in {ANNOTATION_DIR}/")


def _voc(root: str, progress: Progress | None) -> Scan:
    """Unsplit VOC: every image in JPEGImages/ (any depth) needs its XML in Annotations/."""
    _require_dirs(root)
    images = [f for f in walk(os.path.join(root, IMAGE_DIR)) if is_image(f)]
    if not images:
        raise DatasetError(IMAGE_DIR, "holds no images")
    pairs: dict[str, str] = {}
    owner: dict[str, str] = {}
    for sub in images:
        img = f"{IMAGE_DIR}/{sub}"
        stem = posixpath.splitext(sub)[0]
        options = [f"{ANNOTATION_DIR}/{stem}.xml", f"{ANNOTATION_DIR}/{posixpath.basename(stem)}.xml"]
        xml = next((x for x in options if os.path.isfile(os.path.join(root, x))), None)
        if xml is None:
            raise DatasetError(img, f"has no annotation: {options[0]} is missing")
        if xml in owner:
            raise DatasetError(img, f"and {owner[xml]} would share the annotation {xml}; rename one of them")
        owner[xml], pairs[img] = img, xml
    return _build(root, pairs, None, None, progress)


def _labels_txt(root: str) -> list[str]:
    """The class names of labels.txt, one a line, unique."""
    if not os.path.isfile(os.path.join(root, "labels.txt")):
        raise DatasetError("labels.txt", "is missing: a pre-split dataset needs labels.txt, train_list.txt "
                           "and val_list.txt")
    labels: list[str] = []
    for number, text in read_lines(root, "labels.txt"):
        name = text.strip()
        if name in labels:
            raise DatasetError("labels.txt", f"lists '{name}' twice", number)
        labels.append(name)
    if not labels:
        raise DatasetError("labels.txt", "is empty")
    return labels


def _existing(root: str, name: str, number: int, given: str) -> str:
    """The dataset path of a list entry that must exist inside the dataset."""
    rel = inside(root, given)
    if rel is None:
        raise DatasetError(name, f"path '{given}' points outside the dataset", number)
    if not os.path.isfile(os.path.join(root, rel)):
        raise DatasetError(name, f"file '{given}' does not exist", number)
    return rel


def _voc_presplit(root: str, progress: Progress | None) -> Scan:
    """Pre-split VOC: labels.txt + train_list.txt + val_list.txt (+ test_list.txt), lines `image xml`."""
    labels = _labels_txt(root)
    if not os.path.isfile(os.path.join(root, "val_list.txt")):
        raise DatasetError("val_list.txt", "is missing: a pre-split dataset needs labels.txt, train_list.txt "
                           "and val_list.txt")
    pairs: dict[str, str] = {}
    split: dict[str, list[str]] = {part: [] for part in PARTS}
    where: dict[str, str] = {}
    for part, name, number, first, second in split_rows(root):
        img, xml = _existing(root, name, number, first), _existing(root, name, number, second)
        if not is_image(img):
            raise DatasetError(name, f"'{first}' is not an image file", number)
        if not xml.lower().endswith(".xml"):
            raise DatasetError(name, f"annotation '{second}' is not an .xml file", number)
        if img in where:
            raise DatasetError(name, f"{img} is listed again (first at {where[img]})", number)
        where[img] = f"{name}:{number}"
        pairs[img] = xml
        split[part].append(img)
    if not split["train"] or not split["val"]:
        raise DatasetError("train_list.txt" if not split["train"] else "val_list.txt", "lists no images")
    extra = ["labels.txt"] + [f"{p}_list.txt" for p in PARTS if split[p] or p != "test"]
    return _build(root, pairs, labels, split, progress, extra)


def _build(
    root: str, pairs: dict[str, str], labels: list[str] | None, split: dict[str, list[str]] | None,
    progress: Progress | None, extra: list[str] | None = None,
) -> Scan:
    """Parse every XML of (image -> xml) and assemble the Scan."""
    found: dict[str, list[str]] = {}
    sizes = []
    for done, (img, xml) in enumerate(sorted(pairs.items()), 1):
        names, size = read_voc(root, img, xml)
        if labels is not None:
            for k, name in enumerate(names, 1):
                if name not in labels:
                    raise DatasetError(xml, f"object {k} '{name}' is not in labels.txt")
        for name in set(names):
            found.setdefault(name, []).append(img)
        sizes.append(size)
        if progress:
            progress(done, len(pairs))
    ordered = labels if labels is not None else sorted(found)
    label_info = {label: sorted(found.get(label, [])) for label in ordered}
    files = sorted(set(pairs) | set(pairs.values()) | set(extra or []))
    return Scan("detection", ordered, dict(sorted(pairs.items())), label_info, files, split, 3, size_stats(sizes))


def _number(xml: str, where: str, node: ET.Element, tag: str) -> float:
    """The finite number in node/<tag>."""
    text = node.findtext(tag)
    if text is None or not text.strip():
        raise DatasetError(xml, f"{where} has no <{tag}>")
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(xml, f"{where}: <{tag}> is '{text.strip()}', not a number") from None
    if not math.isfinite(value):
        raise DatasetError(xml, f"{where}: <{tag}> is '{text.strip()}', not a finite number")
    return value


def _size(root: str, img: str, xml: str, tree: ET.Element) -> tuple[int, int]:
    """(width, height) from <size> when it is given and positive, else from the image header."""
    node = tree.find("size")
    if node is not None and node.findtext("width") is not None and node.findtext("height") is not None:
        w, h = _number(xml, "<size>", node, "width"), _number(xml, "<size>", node, "height")
        if w > 0 and h > 0:
            return int(w), int(h)
    return image_size(root, img)


def read_voc(root: str, img: str, xml: str) -> tuple[list[str], tuple[int, int]]:
    """The object names of a VOC XML (every box checked against the image size) and the image's (width, height)."""
    try:
        tree = ET.parse(os.path.join(root, xml)).getroot()
    except ET.ParseError as exc:
        raise DatasetError(xml, f"is not well-formed XML ({exc})",
                           exc.position[0]) from None
    except OSError as exc:
        raise DatasetError(xml, f"cannot be read ({exc.strerror})") from None
    width, height = _size(root, img, xml, tree)
    names = []
    for k, obj in enumerate(tree.findall("object"), 1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise DatasetError(xml, f"object {k} has no <name>")
        where = f"object {k} '{name}'"
        node = obj.find("bndbox")
        if node is None:
            raise DatasetError(xml, f"{where} has no <bndbox>")
        x0, y0, x1, y1 = (_number(xml, where, node, t) for t in ("xmin", "ymin", "xmax", "ymax"))
        if not (x0 < x1 and y0 < y1):
            raise DatasetError(xml, f"{where}: box xmin={x0:g} ymin={y0:g} xmax={x1:g} ymax={y1:g} is empty or "
                               "inverted (needs xmin < xmax and ymin < ymax)")
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            raise DatasetError(xml, f"{where}: box xmin={x0:g} ymin={y0:g} xmax={x1:g} ymax={y1:g} lies outside "
                               f"the {width}x{height} image")
        names.append(name)
    return names, (width, height)
