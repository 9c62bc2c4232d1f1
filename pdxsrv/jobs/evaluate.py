"""The evaluation job: run a saved model over the dataset's val (or test) set and write its report.

Parameters (`job.json`): `{"model_dir", "dataset_dir", "project_type", "split", "epoch",
"options": {"topk", "score_thresh", "overlap_thresh"}, "result"}`. The report (the original's
shape, §4.12, plus `epoch`, `part`, `images`) is written atomically to `result` (JSON). Reports:
progress `{"done", "total"}` per batch, then `done` `{"ok": true, "epoch", "summary"}` or
`{"ok": false, "message"}`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pdxsrv.engine import data, inference
from pdxsrv.engine.base import EngineError
from supervisor import report
from supervisor.records import atomic_write

SUMMARY_KEYS = ("Acc1", "Acck", "Mean_IoU", "Mean_Acc", "mAP", "BBox_mAP", "Mask_mAP")


def run(params: dict[str, Any]) -> int:
    """Evaluate; exit 0 on success, 1 on a problem reported in `done`."""
    try:
        trained = inference.load_trained(params["model_dir"])
        spec = data.load(params["dataset_dir"], params["project_type"], params.get("split") or {})
        options = {k: v for k, v in (params.get("options") or {}).items() if v is not None}
        result = inference.evaluate_on(trained, spec, options,
                                       lambda done, total: report.progress(done=done, total=total))
    except EngineError as exc:
        report.done(ok=False, message=str(exc))
        return 1
    result["epoch"] = params.get("epoch")
    os.makedirs(os.path.dirname(params["result"]), exist_ok=True)
    atomic_write(params["result"], json.dumps(result, ensure_ascii=False).encode())
    report.done(ok=True, epoch=params.get("epoch"), summary={k: result[k] for k in SUMMARY_KEYS if k in result})
    return 0

