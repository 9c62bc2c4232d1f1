"""The registry of trainable project types: project type -> its `Kind` (see `pdxsrv.engine.base`)."""

from __future__ import annotations

from pdxsrv.engine import classification, detection, segmentation
from pdxsrv.engine.base import EngineError, Kind

KINDS: dict[str, Kind] = {
    "classification": classification.KIND,
    "segmentation": segmentation.KIND,
    "remote_segmentation": segmentation.REMOTE_KIND,
    "detection": detection.KIND,
    "instance_segmentation": detection.INSTANCE_KIND,
}


def kind_of(project_type: str) -> Kind:
    """The Kind of a project type (EngineError for a type this build cannot train)."""
    try:
        return KINDS[project_type]
    except KeyError:
        raise EngineError(f"{project_type} projects cannot be trained by this build of pdxsrv yet; "
                          f"trainable types: {', '.join(KINDS)}") from None
