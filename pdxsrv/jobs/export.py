"""The export job: a trained model as a verified inference model in `save_dir`.

Parameters (`job.json`): `{"model_dir", "save_dir", "dataset_dir", "project_type", "split",
"epoch", "format": "paddle"|"onnx", "quant": bool}`. The model is exported into a staging folder
inside `save_dir`, `.export-<random suffix>` (`pdxsrv.engine.export`; ONNX: `engine.onnx_export`; int8: `engine.quant`), run
on one dataset image (val, else train) and compared with the trained model; only then are its
files moved into `save_dir`, replacing those of an earlier export and leaving other files alone
(an earlier export's files that this one does not write are removed: they would describe another
program). Reports: progress `{"stage": "load"|"trace"|"calibrate"|"write"|"evaluate"}` (trace
includes the check), then `done` `{"ok": true, "save_dir", "files", "model", "epoch", "metrics",
"exported_type"` (0 paddle, 2 ONNX)`, "quant_result"` (quantized: `{"before", "after"}` val
metrics)`}` or `{"ok": false, "message"}`. SIGTERM (stop) ends it with nothing written to
`save_dir`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import numpy as np

from pdxsrv.engine import checkpoint, data, export, inference, onnx_export, quant
from pdxsrv.engine.base import DataSpec, EngineError
from supervisor import report

STAGING_PREFIX = ".export-"  # the staging folder, inside save_dir: nothing is written outside it


def _data(trained: inference.Trained, params: dict[str, Any]) -> tuple[DataSpec, tuple[np.ndarray, Any]]:
    """The dataset, and one preprocessed image of it (val first) to verify the program on."""
    spec = data.load(params["dataset_dir"], params["project_type"], params.get("split") or {})
    images = spec.parts["val"] or spec.parts["train"]
    return spec, trained.kind.sample(spec, images[0], False, np.random.default_rng(0), trained.meta["params"])


def move_exported(staging: str, save_dir: str) -> list[str]:
    """Move the export's files into `save_dir`, removing those of an earlier export it lacks; their names."""
    os.makedirs(save_dir, exist_ok=True)
    written = [name for name in export.EXPORT_FILES if os.path.isfile(os.path.join(staging, name))]
    for name in written:
        checkpoint.fsync(os.path.join(staging, name))
        os.replace(os.path.join(staging, name), os.path.join(save_dir, name))
    for name in export.EXPORT_FILES:
        if name not in written and os.path.isfile(os.path.join(save_dir, name)):
            os.remove(os.path.join(save_dir, name))
    checkpoint.fsync(save_dir)
    return written


def stage_in(save_dir: str) -> str:
    """Make `save_dir` (the real path the server confined) and a staging folder inside it; EngineError if a
    symbolic link was swapped in for it since, so nothing is written anywhere else."""
    os.makedirs(save_dir, exist_ok=True)
    real = os.path.realpath(save_dir)
    if real != save_dir:
        raise EngineError(f"save_dir {save_dir} was replaced by a symbolic link (to {real}) after the export was "
                          "accepted; nothing was written")
    return tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=save_dir)


def run(params: dict[str, Any]) -> int:
    """Export; exit 0 on success, 1 on a problem reported in `done`."""
    save_dir = os.path.abspath(params["save_dir"])
    try:
        report.progress(stage="load")
        trained = inference.load_trained(params["model_dir"])
        spec, sample = _data(trained, params)
        staging = stage_in(save_dir)
    except (EngineError, OSError) as exc:
        report.done(ok=False, message=f"cannot export: {exc}")
        return 1
    extra: dict[str, Any] = {"exported_type": 0}
    try:
        report.progress(stage="trace")
        if params.get("quant"):
            config, extra["quant_result"] = quant.export_quantized(
                trained, params["model_dir"], staging, spec, sample, lambda stage: report.progress(stage=stage))
        elif params.get("format") == "onnx":
            config, extra["exported_type"] = onnx_export.export_onnx(trained, staging, sample), 2
        else:
            config = export.export_trained(trained, staging, sample)
        report.progress(stage="write")
        written = move_exported(staging, save_dir)
    except (EngineError, OSError) as exc:
        report.done(ok=False, message=str(exc))
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.done(ok=True, save_dir=save_dir, files=written, model=config["Model"], epoch=config["epoch"],
                metrics=config["metrics"], **extra)
    return 0
