"""The training job: train a task (or resume it) to its planned epochs, or until stopped.

Parameters (`job.json`): `{"task_dir", "dataset_dir", "project_type", "split", "params", "seed",
"resume_epoch": int | null, "pretrained": path | null, "prune": {"sensitivities", "pruned_flops"} | null}`
(with `prune`, `pretrained` is the parent's checkpoint, which is pruned before training). Outputs go to `<task_dir>/output/`.
Reports: `progress` per step (see `pdxsrv.engine.loop`), one `metric` per evaluation
`{"epoch", "metrics", "best"}`, log lines, then one `done`: `{"ok": true, "stopped": bool,
"epoch", "step"?, "best", "pruning"}` (`pruning`: FLOPs and parameters before/after, when pruned) or `{"ok": false, "message"}` for a problem the user can fix.
SIGTERM stops after the current step, saving a checkpoint (exit 0 with `stopped: true`).
"""

from __future__ import annotations

import os
from typing import Any

from pdxsrv.engine import checkpoint, data, loop
from pdxsrv.engine.base import EngineError
from supervisor import report


class _Reporter:
    """The loop's reporter: the supervisor's report library."""

    progress = staticmethod(report.progress)
    metric = staticmethod(report.metric)
    log = staticmethod(report.log)


def run(params: dict[str, Any]) -> int:
    """Train; exit 0 when finished or stopped, 1 on a problem reported in `done`."""
    stop = loop.Stop().install()
    output = os.path.join(params["task_dir"], "output")
    try:
        spec = data.load(params["dataset_dir"], params["project_type"], params.get("split") or {})
        resume = params.get("resume_epoch")
        train_run = loop.Run(
            output, params["project_type"], spec, params["params"], int(params.get("seed") or 0),
            resume_from=checkpoint.epoch_dir(output, int(resume)) if resume is not None else None,
            pretrained=params.get("pretrained"), prune=params.get("prune"),
        )
        outcome = loop.train(train_run, _Reporter(), stop)
    except EngineError as exc:
        report.done(ok=False, message=str(exc))
        return 1
    report.done(ok=True, **outcome)
    return 0
