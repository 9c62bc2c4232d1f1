"""Checkpoints: `<task>/output/epoch_N/` and `<task>/output/best_model/`, written atomically.

A checkpoint directory holds
* `model.pdparams` — the network's weights (`paddle.save` of the state dict);
* `model.pdopt` — the optimizer's state (absent in a model saved for inference only);
* `meta.json` — `{"epoch", "step", "steps_per_epoch", "metrics", "best", "model", "project_type",
  "labels", "in_channels", "params", "saved"}`: `epoch` completed epochs, and `step` steps of the
  next one when a stop saved mid-epoch; `params` are the task's training parameters.

It is written into `output/.tmp-<name>-<pid>/`, each file fsync'd, then renamed into place, so a
killed job never leaves a checkpoint that looks complete. Replacing an existing one renames it to
`output/.old-<name>-<pid>` first; `recover()` puts such a directory back if the rename of the new
one never happened, and removes temporary leftovers.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

import paddle

from pdxsrv.engine.base import EngineError
from pdxsrv.weights import safe_load

META = "meta.json"
WEIGHTS = "model.pdparams"
OPTIMIZER = "model.pdopt"
BEST = "best_model"


def epoch_dir(output: str, epoch: int) -> str:
    """`output/epoch_<epoch>`."""
    return os.path.join(output, f"epoch_{epoch}")


def save(output: str, name: str, model: paddle.nn.Layer, opt: paddle.optimizer.Optimizer | None,
         meta: dict[str, Any]) -> str:
    """Write checkpoint `output/<name>` atomically (replacing an older one); return its path."""
    os.makedirs(output, exist_ok=True)
    tmp = os.path.join(output, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    paddle.save(model.state_dict(), os.path.join(tmp, WEIGHTS))
    if opt is not None:
        paddle.save(opt.state_dict(), os.path.join(tmp, OPTIMIZER))
    with open(os.path.join(tmp, META), "w", encoding="utf-8") as f:
        json.dump({**meta, "saved": time.time()}, f, ensure_ascii=False)
    return _land(tmp, output, name)


def copy(output: str, source: str, name: str) -> str:
    """Copy checkpoint `source` to `output/<name>` atomically (e.g. an epoch becoming best_model)."""
    tmp = os.path.join(output, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    return _land(tmp, output, name)


def _land(tmp: str, output: str, name: str) -> str:
    """fsync the files of `tmp`, then rename it to `output/<name>`, replacing (and removing) an older one."""
    for entry in os.listdir(tmp):
        fsync(os.path.join(tmp, entry))
    fsync(tmp)
    target, old = os.path.join(output, name), os.path.join(output, f".old-{name}-{os.getpid()}")
    if os.path.exists(target):
        os.rename(target, old)
    os.rename(tmp, target)
    fsync(output)
    shutil.rmtree(old, ignore_errors=True)
    return target


def recover(output: str) -> None:
    """Undo what a killed save left: restore a replaced checkpoint whose successor never landed, drop temps."""
    if not os.path.isdir(output):
        return
    for entry in sorted(os.listdir(output)):
        path = os.path.join(output, entry)
        if entry.startswith(".old-"):
            name = entry[len(".old-"):].rsplit("-", 1)[0]
            if not os.path.exists(os.path.join(output, name)):
                os.rename(path, os.path.join(output, name))
            else:
                shutil.rmtree(path, ignore_errors=True)
        elif entry.startswith(".tmp-"):
            shutil.rmtree(path, ignore_errors=True)


def read_meta(path: str) -> dict[str, Any]:
    """A checkpoint's `meta.json`."""
    with open(os.path.join(path, META), encoding="utf-8") as f:
        return json.load(f)


def load(path: str, model: paddle.nn.Layer, opt: paddle.optimizer.Optimizer | None = None) -> dict[str, Any]:
    """Restore weights (and optimizer state when given) from a checkpoint; return its meta.

    The files are read with the restricted unpickler and must really lie in the checkpoint's folder."""
    own = (os.path.realpath(path),)
    model.set_state_dict(weights_in(os.path.join(path, WEIGHTS), own))
    if opt is not None and os.path.exists(os.path.join(path, OPTIMIZER)):
        opt.set_state_dict(weights_in(os.path.join(path, OPTIMIZER), own))
    return read_meta(path)


def weights_in(path: str, roots: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The state dict in a .pdparams/.pdopt file, through the restricted unpickler; EngineError if refused."""
    try:
        return safe_load.load(path, roots)
    except safe_load.UnsafeWeights as exc:
        raise EngineError(str(exc)) from None


def load_matching(path: str, model: paddle.nn.Layer, prefix: str = "",
                  roots: tuple[str, ...] | None = None) -> tuple[int, int, list[str]]:
    """Load the weights whose names (with `prefix` put before each) and shapes match ours: pretrained starting
    points. Return (tensors loaded, tensors in the file, our names not loaded). With `roots`, the file really
    opened must lie inside them (a client-named file); it is read with the restricted unpickler either way."""
    weights = weights_in(path if path.endswith(".pdparams") else os.path.join(path, WEIGHTS), roots)
    own = model.state_dict()
    renamed = {prefix + k: v for k, v in weights.items()}
    usable = {k: v for k, v in renamed.items() if k in own and list(v.shape) == list(own[k].shape)}
    model.set_state_dict(usable)
    return len(usable), len(renamed), sorted(set(own) - set(usable))


def fsync(path: str) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
