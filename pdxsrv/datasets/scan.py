"""What a dataset reader returns, how it reports a problem, and the file walk every reader shares.

A reader is `scan(root, progress=None) -> Scan` for one dataset type; it checks everything it
reads and raises `DatasetError` at the first problem, naming the file (relative to `root`, with
`/` separators), the line when there is one, and what is wrong in words a person can act on.
It never writes anything. `Scan.files` is the copy plan: every file the workspace needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from pdxsrv.datasets.details import with_split

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
Progress = Callable[[int, int], None]  # (files checked, files to check)


class DatasetError(Exception):
    """A problem in a source dataset."""

    def __init__(self, file: str, problem: str, line: int | None = None) -> None:
        self.file, self.problem, self.line = file, problem, line
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}")


@dataclass
class Scan:
    """A checked dataset: its labels, which file holds which label, the copy plan, any pre-split lists."""

    type: str
    labels: list[str]
    file_info: dict[str, str]  # image -> class name (classification) or its annotation file
    label_info: dict[str, list[str]]  # label -> the images that contain it
    files: list[str]  # everything to copy, relative to the source root
    split: dict[str, list[str]] | None = None  # pre-split: {"train": [...], "val": [...], "test": [...]}
    bands: int = 3
    image_stats: dict[str, Any] = field(default_factory=dict)  # count, min/max/mean width and height

    def details(self) -> dict[str, Any]:
        """The original's `details` keys (GET /dataset/details), plus per-class counts and image sizes."""
        split = self.split or {}
        details: dict[str, Any] = {
            "file_info": self.file_info,
            "label_info": self.label_info,
            "labels": self.labels,
            "class_counts": {label: len(images) for label, images in self.label_info.items()},
            "image_stats": self.image_stats,
            "bands": self.bands,
        }
        details = with_split(details, {part: split.get(part, []) for part in ("train", "val", "test")})
        details["fields"] = sorted(details)
        return details


def size_stats(sizes: list[tuple[int, int]]) -> dict[str, Any]:
    """Count and min/max/mean of the widths and heights of (width, height) pairs."""
    if not sizes:
        return {"count": 0}
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
    return {
        "count": len(sizes),
        "min_width": min(widths), "max_width": max(widths), "mean_width": round(sum(widths) / len(sizes), 2),
        "min_height": min(heights), "max_height": max(heights), "mean_height": round(sum(heights) / len(sizes), 2),
    }


def relative(root: str, path: str) -> str:
    """`path` relative to `root`, with `/` separators."""
    return os.path.relpath(path, root).replace(os.sep, "/")


def walk(root: str) -> Iterator[str]:
    """Every regular file below `root` (relative paths, sorted, any depth), skipping hidden names.

    A symbolic link is followed only when it stays inside `root`; one that points out, or a
    directory loop, is a DatasetError.
    """
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise DatasetError(".", f"{root} is not a directory")
    seen_dirs: set[str] = set()

    def visit(directory: str) -> Iterator[str]:
        real = os.path.realpath(directory)
        if real in seen_dirs:
            raise DatasetError(relative(root, directory), "a symbolic link makes a directory loop")
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise DatasetError(relative(root, directory), f"cannot be read ({exc.strerror})") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = relative(root, entry.path)
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if os.path.commonpath([target, real_root]) != real_root:
                    raise DatasetError(rel, "is a symbolic link that points outside the dataset")
            if entry.is_dir():
                yield from visit(entry.path)
            elif entry.is_file():
                yield rel

    yield from visit(root)


def is_image(path: str) -> bool:
    """Whether `path` has an image extension (any case)."""
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def read_lines(root: str, name: str) -> list[tuple[int, str]]:
    """(line number, text) of the non-blank lines of a UTF-8 text file of the dataset."""
    try:
        with open(os.path.join(root, name), encoding="utf-8-sig") as f:
            return [(n, line.rstrip("\r\n")) for n, line in enumerate(f, 1) if line.strip()]
    except UnicodeDecodeError as exc:
        raise DatasetError(name, f"is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(name, f"cannot be read ({exc.strerror})") from None


PARTS = ("train", "val", "test")


def split_rows(root: str) -> Iterator[tuple[str, str, int, str, str]]:
    """(part, list file, line number, first, second) of every row of train/val(/test)_list.txt."""
    for part in PARTS:
        name = f"{part}_list.txt"
        if part == "test" and not os.path.isfile(os.path.join(root, name)):
            continue
        for number, first, second in two_columns(root, name):
            yield part, name, number, first, second


def two_columns(root: str, name: str) -> list[tuple[int, str, str]]:
    """(line number, first, second) of a pre-split list whose lines hold exactly two columns."""
    rows = []
    for number, text in read_lines(root, name):
        parts = text.split()
        if len(parts) != 2:
            raise DatasetError(
                name, f"has {len(parts)} columns, expected 2 (a path and a label or annotation, separated by "
                "a space; paths with spaces cannot be listed)", number,
            )
        rows.append((number, parts[0], parts[1]))
    return rows
