"""An imported dataset's details (`<dataset>/details.json`, written by the import) and its split lists."""

from __future__ import annotations

import json
import os
from typing import Any

from pdxsrv.datasets.split import split

DETAILS = "details.json"
IMAGE_LEVEL_CLASSES = ("classification",)  # types whose file_info maps an image to its one class


def load(dataset_dir: str) -> dict[str, Any]:
    """The details the import wrote."""
    with open(os.path.join(dataset_dir, DETAILS), encoding="utf-8") as f:
        return json.load(f)


def split_lists(details: dict[str, Any], dataset_type: str, val: float, test: float, seed: int) -> dict[str, list[str]]:
    """The train/val/test lists of a split (stratified where images have one class each)."""
    images = list(details["file_info"])
    classes = details["file_info"] if dataset_type in IMAGE_LEVEL_CLASSES else None
    return split(images, val, test, seed, classes)


def with_split(details: dict[str, Any], parts: dict[str, list[str]]) -> dict[str, Any]:
    """The details with these train/val/test lists (and the per-class lists that follow)."""
    out = {**details, "train_files": parts["train"], "val_files": parts["val"], "test_files": parts["test"]}
    for part in ("train", "val", "test"):
        chosen = set(parts[part])
        out[f"class_{part}_file_list"] = {
            label: [image for image in images if image in chosen] for label, images in details["label_info"].items()
        }
    return out


def resolved(dataset_dir: str, dataset_type: str, split: dict[str, Any]) -> dict[str, Any]:
    """The dataset's details with the lists of its recorded split (`{}`: as imported, e.g. pre-split)."""
    found = load(dataset_dir)
    if not split:
        return found
    return with_split(found, split_lists(found, dataset_type, split["val_split"], split["test_split"], split["seed"]))
