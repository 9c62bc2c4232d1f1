"""Shared pieces of the synthetic dataset generators: options, the manifest, naming, splitting and file writing."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

SPLIT_SALT = 7919
JPEG_QUALITY = 95


@dataclass
class Options:
    """Everything a generator needs to know; built and checked by `make`."""

    kind: str
    fmt: str
    root: str
    seed: int
    images: int
    size: int
    classes: int
    presplit: bool
    tricky: bool
    bands: int


@dataclass
class Manifest:
    """What a generator wrote: labels in the format's own order and relative image paths (POSIX separators)."""

    kind: str
    fmt: str
    labels: list[str]
    images: list[str]
    per_class: dict[str, int]
    split: dict[str, list[str]] = field(default_factory=dict)
    bands: int = 3
    tricky: bool = False
    skipped: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Name:
    """Where image number i goes: sub-directory (may be ''), stem, extension, and whether the original accepts it."""

    subdir: str
    stem: str
    ext: str
    accepted: bool

    def rel(self, top: str) -> str:
        """The image's path relative to the dataset root, under `top` (may be '')."""
        parts = [p for p in (top, self.subdir, self.stem + self.ext) if p]
        return "/".join(parts)


def image_name(i: int, tricky: bool, *, nested: bool = False, rejectable: bool = True) -> Name:
    """The file name of image i; tricky names mix extensions, a space and (when allowed) rejected files."""
    stem = f"img_{i:04d}"
    if not tricky:
        return Name("", stem, ".jpg", True)
    slot = i % 6
    if slot == 1:
        return Name("", stem, ".png", True)
    if slot == 2:
        return Name("", stem, ".bmp", True)
    if slot == 3:
        return Name("", stem, ".JPEG", True)
    if slot == 4:
        return Name("", f"img {i:04d}", ".jpg", True)
    if slot == 5 and rejectable:
        return Name("", stem, ".Jpg", False)
    if slot == 0 and nested and i % 12 == 6:
        return Name("nested", stem, ".jpg", False)
    return Name("", stem, ".jpg", True)


def split_paths(paths: list[str], seed: int) -> dict[str, list[str]]:
    """A deterministic train/val/test split: val = max(1, n//5), test = n//10 when n >= 10, train the rest."""
    n = len(paths)
    if n < 2:
        raise ValueError("a pre-split dataset needs at least 2 images")
    order = np.random.default_rng([seed, SPLIT_SALT]).permutation(n)
    val_n = max(1, n // 5)
    test_n = n // 10 if n >= 10 else 0
    train_n = n - val_n - test_n
    picked = [paths[k] for k in order]
    return {
        "train": sorted(picked[:train_n]),
        "val": sorted(picked[train_n:train_n + val_n]),
        "test": sorted(picked[train_n + val_n:]),
    }


def prepare_root(root: str) -> None:
    """Create `root`; refuse one that exists and is not an empty directory."""
    if os.path.exists(root):
        if not os.path.isdir(root):
            raise FileExistsError(f"{root} exists and is not a directory")
        if os.listdir(root):
            raise FileExistsError(f"{root} is not empty")
    os.makedirs(root, exist_ok=True)


def write_bytes(root: str, rel: str, data: bytes) -> None:
    """Write `data` to root/rel, creating directories."""
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_text(root: str, rel: str, lines: list[str]) -> None:
    """Write lines (each ending in a newline) as UTF-8."""
    write_bytes(root, rel, "".join(line + "\n" for line in lines).encode("utf-8"))


def write_json(root: str, rel: str, obj: Any) -> None:
    """Write a JSON document with sorted keys (byte-stable)."""
    write_bytes(root, rel, json.dumps(obj, sort_keys=True, indent=1).encode("utf-8"))


def encode_image(img: np.ndarray, ext: str) -> bytes:
    """Encode an image (BGR or grey uint8) for the extension: JPEG quality 95, PNG and BMP lossless."""
    lower = ext.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if lower in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(".jpg" if lower == ".jpeg" else lower, img, params)
    if not ok:
        raise ValueError(f"cannot encode an image as {ext}")
    return buf.tobytes()


def write_image(root: str, rel: str, img: np.ndarray) -> None:
    """Encode `img` by the extension of `rel` and write it."""
    write_bytes(root, rel, encode_image(img, os.path.splitext(rel)[1]))


def write_lists(root: str, split: dict[str, list[str]], second: dict[str, str]) -> None:
    """Write train_list.txt / val_list.txt (/ test_list.txt when not empty): `image second-column` lines."""
    for part, paths in split.items():
        if paths or part != "test":
            write_text(root, f"{part}_list.txt", [f"{p} {second[p]}" for p in paths])
