"""Pretrained weights: the table of PaddlePaddle's published files (`table`), the machine's cache (`cache`).

Use: `WeightsConfig(dir, mirror, offline).fetch(model, keyword, backbone)` -> `Fetched` (a path-like object) or
`NoWeights` (the table has none) / `WeightsUnavailable` (`ChecksumMismatch`: wrong bytes), whose messages say what
to do. The server keeps one `WeightsConfig` on the API context (`--weights-dir`, `--weights-mirror`, `--offline`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pdxsrv.download import Progress
from pdxsrv.weights.cache import Cached, Fetched, default_dir, fetch, path_for, status
from pdxsrv.weights.errors import ChecksumMismatch, NoWeights, WeightsError, WeightsUnavailable
from pdxsrv.weights.table import ENTRIES, KEYWORDS, NOT_PUBLISHED, Entry, lookup, offered

__all__ = ["Cached", "ChecksumMismatch", "ENTRIES", "Entry", "Fetched", "KEYWORDS", "NOT_PUBLISHED", "NoWeights",
           "WeightsConfig", "WeightsError", "WeightsUnavailable", "default_dir", "fetch", "lookup", "offered",
           "path_for", "status"]


@dataclass(frozen=True)
class WeightsConfig:
    """Where the cache is, the mirror to download from (None: the official URLs), and whether to download at all."""

    dir: str = field(default_factory=default_dir)
    mirror: str | None = None
    offline: bool = False

    def fetch(self, model: str, keyword: str, backbone: str | None = None,
              progress: Progress | None = None) -> Fetched:
        """The placed file of `model`/`keyword`/`backbone`, downloaded the first time unless offline."""
        return fetch(model, keyword, backbone, weights_dir=self.dir, mirror=self.mirror, progress=progress,
                     offline=self.offline)

    def path(self, model: str, keyword: str, backbone: str | None = None) -> str:
        """Where that file is, or is to be put by hand."""
        return path_for(model, keyword, backbone, weights_dir=self.dir)

    def cached(self, model: str, keyword: str, backbone: str | None = None) -> bool:
        """Whether that file is in the cache now (no network access)."""
        return os.path.isfile(self.path(model, keyword, backbone))
