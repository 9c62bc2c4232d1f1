"""The training loop every project type shares.

Per step: the learning rate for the global step, forward, the kind's loss, backward, optimizer
step; progress (epoch, step, loss, lr, time per step, speed, eta) is reported at most every
PROGRESS_EVERY seconds and at the end of each epoch. Every `save_interval_epochs` epochs and after
the last one: evaluation on the val set (the train set when val is empty), a `metric` report,
`output/epoch_N`, and `output/best_model` when the first metric improved. VisualDL scalars go to
`output/vdl_log/`.

Order and augmentation depend only on (seed, epoch, batch, position), so a run stopped after
step k of epoch E and resumed from its checkpoint (`epoch` = E, `step` = k in meta.json) sees the
same batches as an uninterrupted one. A stop (`Stop.requested`, set by SIGTERM) is honoured
between steps: the finished step is kept in `output/epoch_E` unless that checkpoint already exists
(then resuming from it repeats at most the steps since).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import statistics
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Protocol

import numpy as np
import paddle

from pdxsrv.domain.step_costs import evaluated_images
from pdxsrv.engine import bn_stats, checkpoint, data as data_mod, prune, sensitivity
from pdxsrv.engine.base import DataSpec, EngineError, Kind, Metric
from pdxsrv.engine.kinds import input_shape, kind_of
from pdxsrv.engine.schedule import epochs_of, optimizer, schedule

log = logging.getLogger("pdxsrv.engine")

PROGRESS_EVERY = 0.5
MIN_PRETRAINED_SHARE = 0.5  # of a pretrained file's tensors that must fit, or the file is refused


class Reporter(Protocol):
    """Where the loop reports (the supervisor's report library, or nothing)."""

    def progress(self, **kv: Any) -> Any: ...
    def metric(self, **kv: Any) -> Any: ...
    def log(self, message: str, level: str = "info") -> Any: ...


class Silent:
    """A reporter that drops everything (for scripts and benches)."""

    def progress(self, **kv: Any) -> None:
        """Drop progress."""

    def metric(self, **kv: Any) -> None:
        """Drop metrics."""

    def log(self, message: str, level: str = "info") -> None:
        """Drop log lines."""


class Stop:
    """Set by SIGTERM (or by hand): the loop stops after the current step."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> "Stop":
        """Handle SIGTERM by setting the flag."""
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@dataclass
class Run:
    """One training run of a task."""

    output: str
    project_type: str
    data: DataSpec
    params: dict[str, Any]
    seed: int = 0
    resume_from: str | None = None  # a checkpoint directory
    pretrained: str | None = None  # a weights file or checkpoint directory
    pretrained_prefix: str = ""  # put before the file's tensor names ("backbone." for a backbone-only file)
    pretrained_roots: tuple[str, ...] | None = None  # a client-named `pretrained` must really lie inside these
    prune: dict[str, Any] | None = None  # {"sensitivities", "pruned_flops"}: prune `pretrained` (a checkpoint) first


def cpu_threads() -> int:
    """The cores this process may run on (its affinity), or PDXSRV_CPU_THREADS when set."""
    configured = os.environ.get("PDXSRV_CPU_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_device() -> str:
    """The GPU the supervisor gave this process (CUDA_VISIBLE_DEVICES), else the CPU with a math thread per core."""
    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        return paddle.set_device("gpu:0").__str__()
    paddle.base.core.set_num_threads(cpu_threads())  # paddle's CPU kernels use one thread unless told
    return paddle.set_device("cpu").__str__()


def build(kind: Kind, data: DataSpec, params: dict[str, Any]) -> paddle.nn.Layer:
    """The task's network."""
    return kind.build_model(str(params.get("model") or ""), data.num_classes, data.bands, params)


def evaluate(kind: Kind, model: paddle.nn.Layer, loader: data_mod.Loader, images: list[str], batch_size: int,
             progress: Callable[[int, int], None] | None = None) -> Metric:
    """Run the model over `images` (eval transforms) and return the filled metric."""
    metric = kind.new_metric(loader.data.num_classes)
    groups = data_mod.chunks(images, batch_size)
    model.eval()
    with paddle.no_grad():
        for index, x, y in loader.iterate(groups, train=False):
            metric.update(kind.infer(model, x), y)
            if progress is not None:
                progress(index + 1, len(groups))
    model.train()
    return metric


def eval_images(data: DataSpec) -> list[str]:
    """The images evaluated during training: val, else test, else train."""
    return data.parts["val"] or data.parts["test"] or data.parts["train"]


class Trainer:
    """Holds one run's model, optimizer and bookkeeping."""

    def __init__(self, run: Run, reporter: Reporter, stop: Stop) -> None:
        self.run, self.reporter, self.stop = run, reporter, stop
        self.kind = kind_of(run.project_type)
        self.params = run.params
        self.num_epochs, self.batch_size, self.save_interval = epochs_of(run.params)
        self.seed = run.seed
        paddle.seed(run.seed)
        np.random.seed(run.seed % 2**32)
        self.model = build(self.kind, run.data, run.params)
        self.pruning = self._shape_model()  # before the optimizer takes the parameters
        self.batch_size = min(self.batch_size, len(run.data.parts["train"]))
        self.steps = len(data_mod.batches(run.data.parts["train"], self.batch_size))
        self.schedule = schedule(run.params, run.project_type, self.steps, self.num_epochs)
        self.opt = optimizer(run.params, run.project_type, self.model, self.schedule.at(0))
        self.loader = data_mod.Loader(self.kind, run.data, run.params)
        self.best: dict[str, Any] = {}
        self.epoch, self.start_step = 0, 0
        self.step_time: float | None = None
        self.last_step: dict[str, Any] = {"epoch": 0, "num_epochs": self.num_epochs, "step": 0, "steps": self.steps}
        self.eval_time = 0.0
        self.step_walls: list[float] = []  # seconds from one step's end to the next's, within an epoch
        self.eval_walls: list[float] = []  # seconds of each evaluation (batch-norm pass and val set, not the save)
        self.vdl = _vdl_writer(os.path.join(run.output, "vdl_log"))

    def prepare(self) -> None:
        """Restore a resumed run, or load pretrained weights."""
        checkpoint.recover(self.run.output)
        if self.run.resume_from:
            meta = checkpoint.load(self.run.resume_from, self.model, self.opt)
            self.epoch, self.start_step = int(meta["epoch"]), int(meta.get("step") or 0)
            self.best = dict(meta.get("best") or {})
            self.start_step = min(self.start_step, self.steps)
            self.reporter.log(f"resumed from {os.path.basename(self.run.resume_from)}: "
                              f"{self.epoch} epochs and {self.start_step} steps done")
        elif self.run.pretrained and not self.run.prune:
            loaded, offered, skipped = checkpoint.load_matching(self.run.pretrained, self.model,
                                                                self.run.pretrained_prefix, self.run.pretrained_roots)
            if loaded < offered * MIN_PRETRAINED_SHARE:
                raise EngineError(f"the pretrained weights {self.run.pretrained} fit only {loaded} of their {offered} "
                                  f"tensors into {self.params.get('model')} (names or shapes differ): they were not "
                                  "made for this network; choose other weights or set pretrain_weights to null")
            self.reporter.log(f"pretrained weights loaded from {self.run.pretrained}: {loaded} of {offered} tensors"
                              + (f"; ours not loaded (trained from scratch): {', '.join(skipped)}" if skipped else ""))

    def meta(self, step: int, metrics: dict[str, float]) -> dict[str, Any]:
        """What a checkpoint records besides the weights."""
        return {"epoch": self.epoch, "step": step, "steps_per_epoch": self.steps, "metrics": metrics,
                "best": self.best, "model": self.params.get("model"), "project_type": self.run.project_type,
                "labels": self.run.data.labels, "in_channels": self.run.data.bands, "params": self.params,
                "pruned": prune.pruned_shapes(self.model), "pruning": self.pruning}

    def _shape_model(self) -> dict[str, Any]:
        """Give the network a resumed checkpoint's pruned shapes, or load and prune the parent model."""
        if self.run.resume_from:
            meta = checkpoint.read_meta(self.run.resume_from)
            prune.reshape_to(self.model, meta.get("pruned"))
            return dict(meta.get("pruning") or {})
        if not self.run.prune:
            return {}
        parent = self.run.pretrained or ""
        if not os.path.isfile(os.path.join(parent, checkpoint.META)):
            raise EngineError(f"the model to prune ({parent}) is not a saved checkpoint")
        prune.reshape_to(self.model, checkpoint.read_meta(parent).get("pruned"))
        checkpoint.load(parent, self.model)
        shape = input_shape(self.run.project_type, self.params, self.run.data.bands)
        spec = self.run.prune
        pruning = sensitivity.prune_model(self.model, shape, spec["sensitivities"], spec.get("pruned_flops"),
                                          spec.get("eval_metric_loss"))
        (before, after), (p_before, p_after) = pruning["flops"], pruning["params"]
        self.reporter.log(f"pruned {len(pruning['ratios'])} layers of {parent}: FLOPs {before:,} -> {after:,} "
                          f"(-{pruning['flops_cut']:.1%}), parameters "
                          f"{p_before:,} -> {p_after:,} (-{pruning['params_cut']:.1%})")
        return pruning

    def train(self) -> dict[str, Any]:
        """Train to `num_epochs` (or until stopped); the outcome for the job's `done` report."""
        self.prepare()
        try:
            if self.pruning and "metrics" not in self.pruning:  # a pruned start: what the cut cost, untrained
                metric = evaluate(self.kind, self.model, self.loader, eval_images(self.run.data), self.batch_size)
                self.pruning["metrics"] = metric.summary()
                self.reporter.log(f"after pruning, before training: {self.pruning['metrics']}")
            self.model.train()
            while self.epoch < self.num_epochs:
                if not self._epoch():
                    return self._stopped()
                self.epoch += 1
                self.start_step = 0
                if self.epoch % self.save_interval == 0 or self.epoch == self.num_epochs:
                    self._evaluate_and_save()
                if self.stop.requested and self.epoch < self.num_epochs:
                    return self._stopped()
        finally:
            self.loader.close()
            if self.vdl is not None:
                self.vdl.close()
        return {"stopped": False, "epoch": self.epoch, "best": self.best, "pruning": self.pruning,
                "timing": self.timing()}

    def timing(self) -> dict[str, Any]:
        """How long this run's steps and evaluations took: {"device", "threads", "batch", "image_shape", "steps",
        "step" (median seconds from one step's end to the next's), "evaluations", "image" (seconds per evaluated
        image, the batch-norm pass's included), "pruned"}."""
        data = self.run.data
        images = evaluated_images(self.run.project_type, len(data.parts["train"]), len(eval_images(data)))
        return {"device": paddle.device.get_device(), "threads": cpu_threads(), "batch": self.batch_size,
                "image_shape": list(self.params.get("image_shape") or []), "steps": len(self.step_walls),
                "step": statistics.median(self.step_walls) if self.step_walls else None,
                "evaluations": len(self.eval_walls),
                "image": statistics.median(self.eval_walls) / images if self.eval_walls and images else None,
                "pruned": bool(self.pruning)}

    def _epoch(self) -> bool:
        """Run the steps of epoch `self.epoch` from `self.start_step`; False when stopped."""
        classes = self.run.data.file_info if self.kind.balanced_batches else None
        order = data_mod.batches(data_mod.epoch_order(self.run.data.parts["train"], self.seed, self.epoch, classes),
                                 self.batch_size)
        last_report, ended = 0.0, None
        for index, x, y in self.loader.iterate(order, train=True, seed=(self.seed, self.epoch), start=self.start_step,
                                              epoch=self.epoch):
            if self.stop.requested:
                self.start_step = index
                return False
            began = time.perf_counter()
            global_step = self.epoch * self.steps + index
            lr = self.schedule.at(global_step)
            self.opt.set_lr(lr)
            loss = self.kind.train_loss(self.model, x, y, self.params)
            loss.backward()
            self.opt.step()
            self.opt.clear_grad()
            value = float(loss)
            if not math.isfinite(value):
                raise EngineError(f"the loss became {value} at epoch {self.epoch + 1}, step {index + 1}: "
                                  "lower the learning rate and train again")
            spent = time.perf_counter() - began
            self.step_time = spent if self.step_time is None else 0.9 * self.step_time + 0.1 * spent
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY or index + 1 == len(order):
                last_report = now
                self._progress(index + 1, len(order), value, lr, len(order[index]))
                if self.vdl is not None:
                    self.vdl.add_scalar("Train/loss", value, global_step)
                    self.vdl.add_scalar("Train/lr", lr, global_step)
            if ended is not None:
                self.step_walls.append(time.perf_counter() - ended)
            ended = time.perf_counter()
        self.start_step = len(order)
        return True

    def _progress(self, step: int, steps: int, loss: float, lr: float, images: int) -> None:
        per_step = self.step_time or 0.0
        left_steps = (self.num_epochs - self.epoch) * self.steps - step
        left_evals = sum(1 for e in range(self.epoch + 1, self.num_epochs + 1)
                         if e % self.save_interval == 0 or e == self.num_epochs)
        self.last_step = dict(
            epoch=self.epoch + 1, num_epochs=self.num_epochs, step=step, steps=steps, loss=loss, lr=lr,
            time_each_step=per_step, speed=images / per_step if per_step else 0.0,
            eta=left_steps * per_step + left_evals * self.eval_time,
        )
        self.reporter.progress(**self.last_step)

    def _evaluate_and_save(self) -> None:
        began = time.perf_counter()
        self.reporter.progress(**{**self.last_step, "phase": "evaluating"})
        if self.kind.fresh_bn_stats:
            _, _, height, width = input_shape(self.run.project_type, self.params, self.run.data.bands)
            bn_stats.recompute(self.kind, self.model, self.loader, self.run.data.parts["train"], self.batch_size,
                               height * width)
        summary = evaluate(self.kind, self.model, self.loader, eval_images(self.run.data), self.batch_size).summary()
        self.eval_walls.append(time.perf_counter() - began)
        if not all(math.isfinite(v) for v in summary.values()):
            self.reporter.log(f"epoch {self.epoch}: the evaluation gave {summary} (the network's outputs are not "
                              "finite yet); counted as 0", "warning")
            summary = {k: (v if math.isfinite(v) else 0.0) for k, v in summary.items()}
        key = next(iter(summary))
        improved = not self.best or summary[key] > self.best.get("value", -math.inf)
        if improved:
            self.best = {"epoch": self.epoch, "metric": key, "value": summary[key]}
        path = checkpoint.save(self.run.output, f"epoch_{self.epoch}", self.model, self.opt, self.meta(0, summary))
        if improved:
            checkpoint.copy(self.run.output, path, checkpoint.BEST)
        self.eval_time = time.perf_counter() - began
        self.reporter.metric(epoch=self.epoch, metrics=summary, best=self.best)
        if self.vdl is not None:
            for name, value in summary.items():
                self.vdl.add_scalar(f"Eval/{name}", value, self.epoch)

    def _stopped(self) -> dict[str, Any]:
        """Keep the finished steps as `epoch_<done epochs>` unless that checkpoint exists."""
        path = checkpoint.epoch_dir(self.run.output, self.epoch)
        if not os.path.isdir(path):
            checkpoint.save(self.run.output, f"epoch_{self.epoch}", self.model, self.opt,
                            self.meta(self.start_step, {}))
        return {"stopped": True, "epoch": self.epoch, "step": self.start_step, "best": self.best,
                "pruning": self.pruning, "timing": self.timing()}


def train(run: Run, reporter: Reporter | None = None, stop: Stop | None = None) -> dict[str, Any]:
    """Train one run to its end (or a stop) and return the outcome."""
    use_device()
    return Trainer(run, reporter or Silent(), stop or Stop()).train()


def _vdl_writer(logdir: str) -> Any:
    """A VisualDL LogWriter, or None when visualdl is not importable."""
    try:
        from visualdl import LogWriter
    except ImportError:
        log.warning("visualdl is not installed: no VisualDL logs")
        return None
    os.makedirs(logdir, exist_ok=True)
    return LogWriter(logdir=logdir)
