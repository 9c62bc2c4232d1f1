"""Instance segmentation reader: COCO polygons or RLE in annotations.json, or pre-split train/val(/test).json."""

from __future__ import annotations

import os

from pdxsrv.datasets.coco import IMAGE_DIR, has, presplit_json, scan_coco
from pdxsrv.datasets.scan import DatasetError, Progress, Scan



def scan(root: str, progress: Progress | None = None) -> Scan:
    """Check an instance segmentation dataset; crowd annotations are checked but not counted in label_info."""
    if not os.path.isdir(root):
        raise DatasetError(".", f"{root} is not a directory")
    if not os.path.isdir(os.path.join(root, IMAGE_DIR)):
        raise DatasetError(IMAGE_DIR, "is missing: an instance segmentation dataset keeps its images in "
                           f"{IMAGE_DIR}/ next to annotations.json (or train.json + val.json)")
    names = presplit_json(root)
    if names is not None:
        return scan_coco(root, "instance_segmentation", names, segmentation=True, image_dir=True, progress=progress)
    if not has(root, "annotations.json"):
        raise DatasetError("annotations.json", "is missing: put the COCO annotations in annotations.json at the "
                           "dataset root (or pre-split train.json + val.json)")
    return scan_coco(root, "instance_segmentation", "annotations.json", segmentation=True, image_dir=True,
                     progress=progress)
