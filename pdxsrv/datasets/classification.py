"""Classification reader: `<class>/<images>` folders (any depth) or pre-split `labels.txt` + list files.

Also home of the small helpers the segmentation readers share: decoding an image cheaply, resolving a
path named in a list file, reading `labels.txt` and summarising image sizes.
"""

from __future__ import annotations

import os
import posixpath
import warnings

from PIL import Image

from pdxsrv.datasets.imagecheck import BadImage, probe
from pdxsrv.datasets.scan import (
    PARTS, DatasetError, Progress, Scan, is_image, read_lines, size_stats, split_rows, walk,
)

TIFF_EXTENSIONS = (".tif", ".tiff")


def decode(root: str, rel: str) -> tuple[int, int, int]:
    """Check image `rel` and return (width, height, bands): JPEG/PNG/BMP by structure, others by decoding."""
    path = os.path.join(root, rel)
    try:
        found = probe(path)
    except BadImage as exc:
        raise DatasetError(rel, f"is not a readable image ({exc})") from None
    except OSError as exc:
        raise DatasetError(rel, f"cannot be read ({exc.strerror})") from None
    if found is not None:
        return found
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
                bands = len(im.getbands())
                im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
                im.load()
        return width, height, bands
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if rel.lower().endswith(TIFF_EXTENSIONS):
            from pdxsrv.datasets.remote import read_raster

            return read_raster(root, rel)
        raise DatasetError(rel, f"is not a readable image (corrupt or truncated: {exc})") from None


def listed_file(root: str, list_name: str, line: int, path: str, what: str = "image") -> str:
    """The normalised relative path of a file named on `line` of a list; it must exist inside the dataset."""
    norm = posixpath.normpath(path.replace("\\", "/"))
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise DatasetError(
            list_name, f"{what} path {path!r} must be relative to the dataset folder and stay inside it", line
        )
    full = os.path.join(root, *norm.split("/"))
    real_root = os.path.realpath(root)
    if os.path.commonpath([os.path.realpath(full), real_root]) != real_root:
        raise DatasetError(list_name, f"{what} {norm} is a symbolic link that points outside the dataset", line)
    if not os.path.isfile(full):
        raise DatasetError(list_name, f"{what} {norm} does not exist", line)
    return norm


def read_labels(root: str, name: str = "labels.txt") -> list[str]:
    """Class names of a labels file, one per line (spaces allowed); no duplicates, at least one."""
    first: dict[str, int] = {}
    for number, text in read_lines(root, name):
        label = text.strip()
        if label in first:
            raise DatasetError(name, f"label {label!r} is listed twice (first on line {first[label]})", number)
        first[label] = number
    labels = list(first)
    if not labels:
        raise DatasetError(name, "is empty; it should list one class name per line")
    return labels


def _report(progress: Progress | None, checked: int, total: int) -> None:
    """Call `progress` about a hundred times over a scan, and at its end."""
    if progress is not None and (checked == total or checked % max(1, total // 100) == 0):
        progress(checked, total)


def _unsplit(root: str) -> tuple[list[str], dict[str, str]]:
    """Labels and image -> class of a folder-per-class dataset."""
    file_info: dict[str, str] = {}
    for rel in walk(root):
        if not is_image(rel):
            continue
        if "/" not in rel:
            raise DatasetError(
                rel, f"is an image directly in the dataset folder; put it in a class folder (<class>/{rel})"
            )
        file_info[rel] = rel.split("/", 1)[0]
    labels = sorted(set(file_info.values()))
    if not labels:
        raise DatasetError(
            ".", "contains no images; a classification dataset is one folder per class holding its images"
        )
    if len(labels) < 2:
        raise DatasetError(
            ".", f"has only one class folder with images ({labels[0]!r}, {len(file_info)} images); "
            "a classification dataset needs at least 2 classes"
        )
    return labels, file_info


def _presplit(root: str) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """Labels, image -> class and the split of a dataset with labels.txt and list files."""
    for needed in ("labels.txt", "val_list.txt"):
        if not os.path.isfile(os.path.join(root, needed)):
            raise DatasetError(needed, "is missing: a pre-split dataset (it has train_list.txt) also needs "
                               "labels.txt and val_list.txt")
    labels = read_labels(root)
    if len(labels) < 2:
        raise DatasetError(
            "labels.txt", f"lists only one class ({labels[0]!r}); a classification dataset needs at least 2"
        )
    file_info: dict[str, str] = {}
    split: dict[str, list[str]] = {part: [] for part in PARTS}
    for part, name, number, path, index in split_rows(root):
        rel = listed_file(root, name, number, path)
        if not is_image(rel):
            raise DatasetError(name, f"{rel} is not an image (extension not one of jpg, jpeg, png, bmp, tif, tiff)",
                               number)
        if not index.isdigit():
            raise DatasetError(name, f"label index {index!r} is not a whole number", number)
        if int(index) >= len(labels):
            raise DatasetError(name, f"label index {index} is out of range: labels.txt has {len(labels)} "
                               f"labels (0..{len(labels) - 1})", number)
        label = labels[int(index)]
        if file_info.get(rel, label) != label:
            raise DatasetError(name, f"{rel} is listed with label {label!r} here but {file_info[rel]!r} before",
                               number)
        file_info[rel] = label
        split[part].append(rel)
    if not split["train"]:
        raise DatasetError("train_list.txt", "lists no images")
    return labels, file_info, split


def scan(root: str, progress: Progress | None = None) -> Scan:
    """Check a classification dataset and describe it."""
    split: dict[str, list[str]] | None = None
    extra: list[str] = []
    if os.path.isfile(os.path.join(root, "train_list.txt")):
        labels, file_info, split = _presplit(root)
        extra = ["labels.txt"] + [f"{p}_list.txt" for p in PARTS if os.path.isfile(os.path.join(root, f"{p}_list.txt"))]
    else:
        labels, file_info = _unsplit(root)
    sizes: list[tuple[int, int]] = []
    total = len(file_info)
    for checked, rel in enumerate(file_info, 1):
        width, height, _ = decode(root, rel)
        sizes.append((width, height))
        _report(progress, checked, total)
    label_info: dict[str, list[str]] = {label: [] for label in labels}
    for rel, label in file_info.items():
        label_info[label].append(rel)
    return Scan(
        type="classification", labels=labels, file_info=file_info, label_info=label_info,
        files=list(file_info) + extra, split=split, image_stats=size_stats(sizes),
    )
