"""The demos pdxsrv builds itself, and the `<name>_params.json` every prepared demo holds.

A prepared demo is a folder `<workspace>/demo_datasets/<type>/<name>/` holding a pre-split dataset of its
type and `<name>_params.json` (the layout of the original's archives, e.g.
`vegetables_cls/vegetables_cls_params.json`), UTF-8 JSON::

    {"dataset_info": {"name": str, "desc": str, "dataset_type": <type>},
     "project_info": {"name": str, "desc": str, "project_type": <type>},
     "train_params": {<task parameters; they override the recommended ones>}}

Generated demos are sized so that their `train_params` train a useful model on a 2-core CPU in minutes
(classification and segmentation; the R-CNN types take longer, see docs/design-notes.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from pdxsrv.datasets.synthetic import make

SEED = 2024
_NO_AUGMENT_COLOUR = {"brightness": False, "contrast": False, "saturation": False, "hue": False}


@dataclass(frozen=True)
class Recipe:
    """A generated demo: its folder name, what `synthetic.make` draws, and its task's parameters."""

    name: str
    title: str
    images: int
    size: int
    classes: int
    train_params: dict[str, Any]


_SEGMENTATION = {"model": "BiSeNetV2", "num_epochs": 10, "batch_size": 8, "learning_rate": 0.01, "optimizer": "Adam",
                 "lr_policy": "Cosine", "image_shape": [64, 64], "save_interval_epochs": 2, "pretrain_weights": None}
# Mask R-CNN R18 at lr 0.02 diverged on these shapes (bench/quality_bench.py); 0.005 reached mask mAP 0.98.
RECIPES: dict[str, Recipe] = {
    "classification": Recipe("shapes_cls", "shapes (classification)", 300, 64, 4, {
        "model": "ResNet18", "num_epochs": 10, "batch_size": 16, "learning_rate": 0.05, "lr_policy": "Cosine",
        "lr_decay_epochs": [4, 7], "image_shape": [64, 64], "save_interval_epochs": 2,
        "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "pretrain_weights": None, "rotate": False,
        **_NO_AUGMENT_COLOUR}),
    "detection": Recipe("shapes_det", "shapes (detection)", 150, 128, 3, {
        "model": "FasterRCNN", "backbone": "ResNet18", "num_epochs": 4, "batch_size": 8, "learning_rate": 0.02,
        "lr_policy": "Cosine", "warmup_steps": 20, "warmup_start_lr": 0.0, "image_shape": [128, 128],
        "save_interval_epochs": 2, "pretrain_weights": None}),
    "segmentation": Recipe("shapes_seg", "shapes (segmentation)", 300, 64, 4, _SEGMENTATION),
    "instance_segmentation": Recipe("shapes_ins", "shapes (instance segmentation)", 120, 128, 3, {
        "model": "MaskRCNN", "backbone": "ResNet18", "num_epochs": 4, "batch_size": 8, "learning_rate": 0.005,
        "lr_policy": "Cosine", "warmup_steps": 20, "warmup_start_lr": 0.0, "image_shape": [128, 128],
        "save_interval_epochs": 2, "pretrain_weights": None}),
    "remote_segmentation": Recipe("fields_rs", "4-band fields (remote sensing segmentation)", 300, 64, 4,
                                  _SEGMENTATION),
}
INFO_KEYS = {"dataset_info": "dataset_type", "project_info": "project_type"}


class DemoFileError(ValueError):
    """A demo folder whose params file is missing or malformed."""


def params_path(folder: str, name: str) -> str:
    """`<folder>/<name>_params.json`."""
    return os.path.join(folder, f"{name}_params.json")


def describe(prj_type: str, recipe: Recipe) -> dict[str, Any]:
    """The params document of a generated demo."""
    return {
        "dataset_info": {"name": f"demo_{recipe.name}", "desc": f"Demo dataset: generated {recipe.title}",
                         "dataset_type": prj_type},
        "project_info": {"name": f"demo_{recipe.name}_project",
                         "desc": f"Demo project on generated {recipe.title}", "project_type": prj_type},
        "train_params": dict(recipe.train_params),
    }


def build(prj_type: str, folder: str) -> None:
    """Generate the type's demo dataset into `folder` (missing or empty) and write its params file there."""
    recipe = RECIPES[prj_type]
    make(prj_type, folder, seed=SEED, images=recipe.images, size=recipe.size, classes=recipe.classes,
         presplit=True)
    with open(params_path(folder, recipe.name), "w", encoding="utf-8") as f:
        json.dump(describe(prj_type, recipe), f, ensure_ascii=False, indent=1)


def read_params(folder: str, name: str, prj_type: str) -> dict[str, Any]:
    """The checked params document of the demo in `folder` (DemoFileError saying what is wrong)."""
    path = params_path(folder, name)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise DemoFileError(f"{path} is missing; download the demo again") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoFileError(f"{path} cannot be read as JSON ({exc})") from None
    if not isinstance(doc, Mapping):
        raise DemoFileError(f"{path} must hold a JSON object with dataset_info, project_info and train_params")
    for key, type_key in INFO_KEYS.items():
        info = doc.get(key)
        if not isinstance(info, Mapping) or not isinstance(info.get("name"), str) or not info["name"].strip():
            raise DemoFileError(f"{path}: {key} must be an object with a non-empty name")
        if info.get(type_key, prj_type) != prj_type:
            raise DemoFileError(f"{path}: {key}.{type_key} is {info.get(type_key)!r}, but this is the {prj_type} demo")
    if not isinstance(doc.get("train_params", {}), Mapping):
        raise DemoFileError(f"{path}: train_params must be a JSON object of task parameters")
    return {"dataset_info": dict(doc["dataset_info"]), "project_info": dict(doc["project_info"]),
            "train_params": dict(doc.get("train_params") or {})}
