"""The prediction job: predict images with a saved model and draw each result as a PNG.

Parameters (`job.json`): `{"model_dir", "images": [path...], "outputs": [png path...],
"options": {"score_thresh", "topk", ...}}` (one output per image). Reports: progress
`{"done", "total"}` after each image, then `done` `{"ok": true, "results": [{"image", "path",
"result"}...]}` or `{"ok": false, "message"}`.
"""

from __future__ import annotations

import os
from typing import Any

import cv2

from pdxsrv.engine import inference
from pdxsrv.engine.base import EngineError
from supervisor import report


def run(params: dict[str, Any]) -> int:
    """Predict; exit 0 on success, 1 on a problem reported in `done`."""
    images, outputs = params["images"], params["outputs"]
    results = []
    try:
        trained = inference.load_trained(params["model_dir"])
        for done, (image, output) in enumerate(zip(images, outputs), start=1):
            prediction = inference.predict(trained, image, params.get("options") or {})
            os.makedirs(os.path.dirname(output), exist_ok=True)
            if not cv2.imwrite(output, prediction.visual):
                raise EngineError(f"cannot write {output}")
            results.append({"image": image, "path": output, "result": prediction.result})
            report.progress(done=done, total=len(images))
    except EngineError as exc:
        report.done(ok=False, message=str(exc), results=results)
        return 1
    report.done(ok=True, results=results)
    return 0
