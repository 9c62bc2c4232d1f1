"""The registry of trainable project types: project type -> its `Kind` (see `pdxsrv.engine.base`)."""

from __future__ import annotations

from typing import Any

from pdxsrv.engine import augment, classification, detection, segmentation
from pdxsrv.engine.base import EngineError, Kind

KINDS: dict[str, Kind] = {
    "classification": classification.KIND,
    "segmentation": segmentation.KIND,
    "remote_segmentation": segmentation.REMOTE_KIND,
    "detection": detection.KIND,
    "instance_segmentation": detection.INSTANCE_KIND,
}
# (width, height) a network sees when its parameters do not say (`image_shape`).
DEFAULT_SHAPES = {"segmentation": segmentation.DEFAULT_SHAPE, "remote_segmentation": segmentation.DEFAULT_SHAPE,
                  "detection": (608, 608), "instance_segmentation": (608, 608)}


def input_shape(project_type: str, params: dict[str, Any], bands: int | None) -> list[int]:
    """[1, bands, H, W]: one image as a (non-detection) network of the type sees it."""
    width, height = augment.image_shape(params, DEFAULT_SHAPES.get(project_type, (224, 224)))
    return [1, int(bands or 3), height, width]


def kind_of(project_type: str) -> Kind:
    """The Kind of a project type (EngineError for a type this build cannot train)."""
    try:
        return KINDS[project_type]
    except KeyError:
        raise EngineError(f"{project_type} projects cannot be trained by this build of pdxsrv yet; "
                          f"trainable types: {', '.join(KINDS)}") from None
