"""The export job: a trained model as a verified paddle inference model in `save_dir`.

Parameters (`job.json`): `{"model_dir", "save_dir", "dataset_dir", "project_type", "split",
"epoch"}`. The model is traced into a staging folder next to `save_dir`, run on one dataset image
(val, else train) and compared with the trained model (`pdxsrv.engine.export`); only then are
its files moved into `save_dir`, replacing those of an earlier export and leaving other files
alone. Reports: progress `{"stage": "load"|"trace"|"write"}` (trace includes the check), then `done` `{"ok": true,
"save_dir", "files", "model", "epoch"}` or `{"ok": false, "message"}`. SIGTERM (stop) ends it
with nothing written to `save_dir`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import numpy as np

from pdxsrv.engine import checkpoint, data, export, inference
from pdxsrv.engine.base import EngineError
from supervisor import report


def _sample(trained: inference.Trained, params: dict[str, Any]) -> tuple[np.ndarray, Any]:
    """One preprocessed dataset image (val first) to verify the program on."""
    spec = data.load(params["dataset_dir"], params["project_type"], params.get("split") or {})
    images = spec.parts["val"] or spec.parts["train"]
    return trained.kind.sample(spec, images[0], False, np.random.default_rng(0), trained.meta["params"])


def run(params: dict[str, Any]) -> int:
    """Export; exit 0 on success, 1 on a problem reported in `done`."""
    save_dir = os.path.abspath(params["save_dir"])
    parent = os.path.dirname(save_dir)
    try:
        report.progress(stage="load")
        trained = inference.load_trained(params["model_dir"])
        sample = _sample(trained, params)
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(save_dir)}.export-", dir=parent)
    except (EngineError, OSError) as exc:
        report.done(ok=False, message=f"cannot export: {exc}")
        return 1
    try:
        report.progress(stage="trace")
        config = export.export_trained(trained, staging, sample)
        report.progress(stage="write")
        os.makedirs(save_dir, exist_ok=True)
        for name in export.EXPORTED_FILES:
            checkpoint.fsync(os.path.join(staging, name))
            os.replace(os.path.join(staging, name), os.path.join(save_dir, name))
        checkpoint.fsync(save_dir)
    except (EngineError, OSError) as exc:
        report.done(ok=False, message=str(exc))
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.done(ok=True, save_dir=save_dir, files=list(export.EXPORTED_FILES), model=config["Model"],
                epoch=config["epoch"], metrics=config["metrics"], exported_type=0)
    return 0
