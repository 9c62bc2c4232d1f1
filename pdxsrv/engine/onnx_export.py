"""ONNX: convert a saved paddle inference program with paddle2onnx and run it in ONNX Runtime.

The conversion runs in a child interpreter (`python -m pdxsrv.engine.onnx_export PREFIX OUT`):
paddle2onnx aborts the whole process on some programs (SIGFPE on PP-LiteSeg), and the export job
must outlive that to report it. paddle2onnx 2.1.0's default optimizer (polygraphy) pip-installs
packages at run time, which upgraded numpy and broke this environment once; the conversion uses
`onnxoptimizer` instead and sets `POLYGRAPHY_AUTOINSTALL_DEPS=0` so nothing is ever installed.
Opset 11 is asked for; paddle2onnx raises it when an operator needs a newer one. A classification
ONNX export also gets PaddleX 3's `inference.yml` (where PaddleX has the architecture), so that
`paddlex.create_model(model_name, model_dir, engine="onnxruntime")` runs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import numpy as np

from pdxsrv.engine import paddlex_yml
from pdxsrv.engine.base import EngineError

OPSET = 11
TIMEOUT_S = 900
# Families whose ONNX export gets PaddleX 3's inference.yml (for `create_model(..., engine="onnxruntime")`): the
# file names no program there; segmentation's and detection's name inference.json and were not tried with ONNX.
PADDLEX_ONNX = ("classification",)
SAFE_ENV = {"POLYGRAPHY_AUTOINSTALL_DEPS": "0", "PIP_NO_INDEX": "1"}


def convert(prefix: str, path: str) -> None:
    """Convert the program saved at `prefix` into the ONNX file `path`; EngineError with paddle2onnx's reason."""
    env = {**os.environ, **SAFE_ENV}
    try:
        done = subprocess.run([sys.executable, "-m", __name__, prefix, path], env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EngineError(f"paddle2onnx did not finish within {TIMEOUT_S} s") from None
    if done.returncode == 0 and os.path.isfile(path):
        return
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise EngineError(f"paddle2onnx crashed ({name}) converting this model: ONNX export does not support it")
    said = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    tail = "\n".join([line for line in said if "rror" in line] or said[-3:])[-800:]
    raise EngineError(f"paddle2onnx could not convert this model: {tail or 'no reason given'}")


class OnnxModel:
    """An ONNX file loaded into an ONNX Runtime CPU session."""

    def __init__(self, path: str) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run on named inputs; the outputs in the program's order."""
        return [np.asarray(o) for o in self.session.run(None, {k: feeds[k] for k in self.inputs})]


def export_onnx(trained: Any, folder: str, sample: tuple[np.ndarray, Any]) -> dict[str, Any]:
    """Write `inference.onnx` and deploy.yml into `folder`, verified as the paddle program is; the deploy config.

    The paddle program is traced and verified first (`export.export_trained`), converted, and the
    ONNX model must then give the trained model's outputs on `sample` within the same tolerance.
    """
    from pdxsrv.engine import export

    config = export.export_trained(trained, folder, sample)
    prefix = os.path.join(folder, export.MODEL_PREFIX)
    path = os.path.join(folder, export.ONNX_FILE)
    convert(prefix, path)
    export.verify(trained, sample, OnnxModel(path))
    for name in export.EXPORT_FILES:
        if name not in (export.ONNX_FILE, export.DEPLOY_FILE) and os.path.isfile(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    config = {**{k: v for k, v in config.items() if k != "onednn"}, "format": "onnx", "program": export.ONNX_FILE,
              "params": None}
    export.write_deploy(folder, config)
    if config["project_type"] in PADDLEX_ONNX:  # PaddleX's onnxruntime engine reads it beside inference.onnx
        paddlex_yml.write(folder, config)
    return config


def _main(prefix: str, path: str) -> int:
    """The child's work: convert and write `path`; 1 with paddle2onnx's reason on stderr."""
    import paddle2onnx

    from pdxsrv.engine.export import PARAMS_SUFFIX, PROGRAM_SUFFIX

    partial = path + ".partial"
    try:
        paddle2onnx.export(prefix + PROGRAM_SUFFIX, prefix + PARAMS_SUFFIX, save_file=partial, opset_version=OPSET,
                           auto_upgrade_opset=True, enable_onnx_checker=True, optimize_tool="onnxoptimizer")
    except Exception as exc:  # paddle2onnx logs the cause and then fails on its own unset result
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not os.path.isfile(partial):
        print("error: paddle2onnx wrote no model", file=sys.stderr)
        return 1
    os.replace(partial, path)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
