"""The dataset readers, by dataset type (an explicit registry)."""

from __future__ import annotations

from typing import Callable

from pdxsrv.datasets import classification, detection, instance_segmentation, remote, segmentation
from pdxsrv.datasets.scan import Progress, Scan

READERS: dict[str, Callable[[str, Progress | None], Scan]] = {
    "classification": classification.scan,
    "detection": detection.scan,
    "segmentation": segmentation.scan,
    "instance_segmentation": instance_segmentation.scan,
    "remote_segmentation": remote.scan,
}
