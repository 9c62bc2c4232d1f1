"""The training job: train a task (or resume it) to its planned epochs, or until stopped.

Parameters (`job.json`): `{"task_dir", "dataset_dir", "project_type", "split", "params", "seed",
"resume_epoch": int | null, "pretrained": path | weights | null, "prune": {"sensitivities", "pruned_flops"} | null,
"roots": [dir, ...], "step_costs": path | null}` (a `pretrained` path must really lie inside `roots`, checked on
the file opened) (with `prune`, `pretrained` is the parent's checkpoint, which is pruned before training). `weights` is
`{"model", "keyword", "backbone", "weights_dir", "mirror"}`: published weights, taken from the machine's
cache or downloaded into it first (`pdxsrv.weights`). Outputs go to `<task_dir>/output/`.
A finished or stopped CPU run of an unpruned network with at least MIN_STEPS timed steps and an evaluation adds its
median step and its evaluations' time per image to this machine's step costs in `step_costs`
(`pdxsrv.machine_costs`), which later estimates and CPU recipes of about the same size use; a failure to write them
is logged, never fatal.
Reports: while downloading, `progress` `{"phase": "downloading", "done", "total", "speed"}` (bytes, bytes/s);
then `progress` per step (see `pdxsrv.engine.loop`, with `"weights": "downloaded" | "cached"` when published
weights were used), one `metric` per evaluation `{"epoch", "metrics", "best"}`, log lines, then one `done`:
`{"ok": true, "stopped": bool, "epoch", "step"?, "best", "pruning"}` (`pruning`: FLOPs and parameters
before/after, when pruned), `{"ok": true, "stopped": true, "phase": "downloading"}` for a stop during the
download, or `{"ok": false, "message", "weights_failed"?}` for a problem the user can fix.
SIGTERM stops after the current step, saving a checkpoint (exit 0 with `stopped: true`).
"""

from __future__ import annotations

import os
import time
from typing import Any

from pdxsrv import machine_costs, system
from pdxsrv.domain import step_costs
from pdxsrv.engine import checkpoint, data, loop
from pdxsrv.engine.base import EngineError
from pdxsrv.weights import WeightsError, fetch
from supervisor import report

DOWNLOAD_REPORT_EVERY = 0.5  # seconds between download progress reports
MIN_STEPS = 5  # timed steps (after each epoch's first) a run needs before its step time is learned


class _Reporter:
    """The loop's reporter: the supervisor's report library, each progress report saying how the weights came."""

    def __init__(self, weights: str | None) -> None:
        self.weights = weights

    def progress(self, **kv: Any) -> None:
        """A step's progress."""
        report.progress(**kv, **({"weights": self.weights} if self.weights else {}))

    metric = staticmethod(report.metric)
    log = staticmethod(report.log)


class _StoppedDownload(Exception):
    """SIGTERM arrived during the download."""


class _DownloadProgress:
    """Reports the download at most every DOWNLOAD_REPORT_EVERY seconds; aborts it on a stop."""

    def __init__(self, stop: loop.Stop) -> None:
        self.stop, self.began, self.last = stop, time.monotonic(), 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.stop.requested:
            raise _StoppedDownload()
        now = time.monotonic()
        if now - self.last >= DOWNLOAD_REPORT_EVERY or (total and done >= total):
            self.last = now
            report.progress(phase="downloading", done=done, total=total, speed=done / max(now - self.began, 1e-3))


def _weights(spec: dict[str, Any], stop: loop.Stop) -> tuple[str, str, str]:
    """(path, name prefix, "downloaded" | "cached") of the published weights `spec` names."""
    fetched = fetch(spec["model"], spec["keyword"], spec.get("backbone"), weights_dir=spec["weights_dir"],
                    mirror=spec.get("mirror"), progress=_DownloadProgress(stop))
    report.log(f"pretrained weights {fetched.entry.file}: {fetched.path} ({fetched.checked})")
    return os.fspath(fetched), fetched.entry.prefix, "downloaded" if fetched.downloaded else "cached"


def run(params: dict[str, Any]) -> int:
    """Train; exit 0 when finished or stopped, 1 on a problem reported in `done`."""
    stop = loop.Stop().install()
    output = os.path.join(params["task_dir"], "output")
    pretrained, prefix, how = params.get("pretrained"), "", None
    try:
        if isinstance(pretrained, dict):
            pretrained, prefix, how = _weights(pretrained, stop)
    except _StoppedDownload:
        report.done(ok=True, stopped=True, phase="downloading", epoch=0)
        return 0
    except WeightsError as exc:
        report.done(ok=False, message=str(exc), weights_failed=True)
        return 1
    try:
        spec = data.load(params["dataset_dir"], params["project_type"], params.get("split") or {})
        resume = params.get("resume_epoch")
        train_run = loop.Run(
            output, params["project_type"], spec, params["params"], int(params.get("seed") or 0),
            resume_from=checkpoint.epoch_dir(output, int(resume)) if resume is not None else None,
            pretrained=pretrained, pretrained_prefix=prefix, prune=params.get("prune"),
            pretrained_roots=tuple(params["roots"]) if params.get("roots") and how is None else None,
        )
        outcome = loop.train(train_run, _Reporter(how), stop)
    except EngineError as exc:
        report.done(ok=False, message=str(exc))
        return 1
    _learn(params, outcome.pop("timing", None))
    report.done(ok=True, **outcome)
    return 0


def _learn(params: dict[str, Any], timing: dict[str, Any] | None) -> None:
    """Add this run's step and evaluation times to the machine's step costs, when they say something of the model."""
    path, train = params.get("step_costs"), params["params"]
    if (not path or not timing or timing["device"] != "cpu" or timing["pruned"] or timing["steps"] < MIN_STEPS
            or not timing["image"]):
        return
    kind, model = params["project_type"], str(train.get("model"))
    name = step_costs.key(kind, model, train.get("backbone") or None)
    try:
        import paddle

        work, step, image = step_costs.learned(kind, model, timing["image_shape"], timing["batch"],
                                               system.cpu_capacity()[0] / max(timing["threads"], 1), timing["step"],
                                               timing["image"])
        machine_costs.record(path, kind, name, step, image, f"run {os.path.basename(params['task_dir'])}",
                             paddle.__version__, work=work)
    except (OSError, ValueError) as exc:
        report.log(f"this run's step times were not added to the machine's step costs ({path}): {exc}", "warning")
        return
    report.log(f"{timing['step']:.3f} s a step of {timing['batch']} images, {timing['image']:.4f} s an evaluated "
               f"image: added to this machine's step costs for {name}, for estimates of runs of about this size")
