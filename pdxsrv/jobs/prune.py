"""The pruning analysis job: how much each layer's filters can be cut, measured on the val set.

Parameters (`job.json`): `{"model_dir", "dataset_dir", "project_type", "split", "out_dir"}`.
Writes `<out_dir>/sensitivities.json` (`pdxsrv.engine.sensitivity`'s data) and
`<out_dir>/sensitivities.png` (the chart), each atomically. Reports: progress
`{"done", "total", "layer", "eta"}` per evaluation, then `done` `{"ok": true, "sensitivities",
"chart"}` or `{"ok": false, "message"}`. SIGTERM ends it at once; nothing half-written is left.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

import paddle

from pdxsrv.engine import data, inference, sensitivity
from pdxsrv.engine.base import EngineError
from pdxsrv.engine.kinds import input_shape
from supervisor import report
from supervisor.records import atomic_write

CACHE_BYTES = 1 << 30  # the val batches are decoded once and kept when they fit in this


def run(params: dict[str, Any]) -> int:
    """Analyse; exit 0 on success, 1 on a problem reported in `done`."""
    try:
        trained = inference.load_trained(params["model_dir"])
        spec = data.load(params["dataset_dir"], params["project_type"], params.get("split") or {})
        evaluate = evaluator(trained, spec)
        started = time.monotonic()

        def progress(done: int, total: int, layer: str) -> None:
            eta = (time.monotonic() - started) / done * (total - done) if done else None
            report.progress(done=done, total=total, layer=layer, eta=None if eta is None else round(eta, 1))

        shape = input_shape(trained.kind.name, trained.meta["params"], trained.meta.get("in_channels"))
        result = sensitivity.analyse(trained.model, shape, evaluate, progress)
    except EngineError as exc:
        report.done(ok=False, message=str(exc))
        return 1
    if not result["layers"]:
        report.done(ok=False, message="no layer of this network can be pruned (every channel group is tied to "
                                      "an operation pruning cannot follow)")
        return 1
    os.makedirs(params["out_dir"], exist_ok=True)
    atomic_write(os.path.join(params["out_dir"], "sensitivities.json"), json.dumps(result).encode())
    chart = sensitivity.chart(result, os.path.join(params["out_dir"], "sensitivities.png"))
    report.done(ok=True, sensitivities=result, chart=chart)
    return 0


def evaluator(trained: inference.Trained, spec: data.DataSpec) -> Callable[[], dict[str, float]]:
    """A function giving the model's headline metrics on the val set (test set without one)."""
    _, images, spec, batch_size = inference.val_part(trained, spec)
    loader = data.Loader(trained.kind, spec, trained.meta["params"])
    groups = data.chunks(images, batch_size)
    batches: list[Any] = []
    size = 0
    try:
        for _, x, y in loader.iterate(groups, train=False):
            size += getattr(x, "nbytes", 0)
            if size > CACHE_BYTES:
                batches = []
                break
            batches.append((x, y))
    finally:
        if batches:
            loader.close()

    def passes() -> Any:
        if batches:
            return iter(batches)
        return ((x, y) for _, x, y in loader.iterate(groups, train=False))

    def evaluate() -> dict[str, float]:
        metric = trained.kind.new_metric(len(spec.labels))
        trained.model.eval()
        with paddle.no_grad():
            for x, y in passes():
                metric.update(trained.kind.infer(trained.model, x), y)
        return metric.summary()

    return evaluate
