"""The dataset import job: check the source, copy it into the workspace, write its details.

Parameters (`job.json`): `{"dataset_type", "source", "target"}`; `source` is the real path the server
confined, used as it is: if it is no longer its own real path (a link swapped in) nothing is read, and the
copy opens each file once and refuses one that really lies outside `source` (`datasets.copying`). A folder
laid out as another type's dataset is refused first (`datasets.layout`). Reports: progress records
`{"phase": "checking"|"copying", "done", "total"}`, then one `done` record:
`{"ok": true, "presplit": bool, "summary": {...}, "method": "hardlink"|"copy"|"mixed"}` or
`{"ok": false, "phase": "checking"|"copying", "message": "<file>:<line>: <problem>"}`.
`<target>/details.json` holds `Scan.details()` (JSON; never a pickle).
"""

from __future__ import annotations

import json
import os
import signal
from types import FrameType
from typing import Any

from pdxsrv.confined import first_link
from pdxsrv.datasets import layout
from pdxsrv.datasets.copying import copy_dataset
from pdxsrv.datasets.readers import READERS
from pdxsrv.datasets.scan import DatasetError
from pdxsrv.paths import PathRefused
from supervisor import report

DETAILS = "details.json"


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the copy, which removes its partial files


def run(params: dict[str, Any]) -> int:
    """Check, copy, describe; exit 0 on success, 1 on a dataset problem."""
    signal.signal(signal.SIGTERM, _stopped)
    source, target = params["source"], params["target"]
    reader = READERS[params["dataset_type"]]
    moved = os.path.realpath(source)
    if moved != source:  # the server confined `source` as a real path; a link was swapped in since
        report.done(ok=False, phase="checking", message=f"{first_link(source) or source} was replaced by a symbolic "
                    f"link (to {moved}) after the import was accepted; nothing was imported")
        return 1
    try:
        layout.check(source, params["dataset_type"])  # another type's folder is refused, naming that type
        scan = reader(source, lambda done, total: report.progress(phase="checking", done=done, total=total))
    except DatasetError as exc:
        report.done(ok=False, phase="checking", message=str(exc))
        return 1
    try:
        method = copy_dataset(source, target, scan.files,
                              lambda done, total: report.progress(phase="copying", done=done, total=total))
        details = scan.details()
        with open(os.path.join(target, DETAILS), "w", encoding="utf-8") as f:
            json.dump(details, f, ensure_ascii=False)
    except PathRefused as exc:
        report.done(ok=False, phase="copying", message=str(exc))
        return 1
    except OSError as exc:
        report.done(ok=False, phase="copying", message=f"copying into the workspace failed: {exc}")
        return 1
    stats = scan.image_stats
    summary = {
        "labels": scan.labels, "images": len(scan.file_info), "bands": scan.bands,
        "image_side": min(stats["mean_width"], stats["mean_height"]) if stats.get("count") else None,
        "train_num": len(details["train_files"]), "val_num": len(details["val_files"]),
        "test_num": len(details["test_files"]),
    }
    report.done(ok=True, presplit=scan.split is not None, summary=summary, method=method)
    return 0
