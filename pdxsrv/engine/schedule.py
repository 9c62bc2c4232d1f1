"""Learning-rate schedules and optimizers from the task parameters.

The rate is a pure function of the global step (`Schedule.at(step)`), set on the optimizer before
every step, so a resumed run continues the schedule exactly where it stopped. Policies (the
original's `lr_policy`): Piecewise (x0.1 at each of `lr_decay_epochs`), Cosine (to 0 over the run),
Polynomial (power 0.9 to 0) and Linear (power 1); `warmup_steps` ramps linearly from
`warmup_start_lr` first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import paddle

from pdxsrv.domain.train_keys import OPTIMIZERS, POLICIES
from pdxsrv.engine.augment import number
from pdxsrv.engine.base import EngineError

DEFAULT_POLICY = {"classification": "Piecewise", "segmentation": "Polynomial", "remote_segmentation": "Polynomial"}
# Gradients clipped to this global norm, by model: an R-CNN from scratch has rare gradient spikes (norms of 100-350
# where 10-70 is usual) that run its box losses away to 1e9 within a few steps at lr 0.02 and batch 16 (issue 15).
CLIP_NORM = {"fasterrcnn": 35.0, "maskrcnn": 35.0}


@dataclass(frozen=True)
class Schedule:
    """The learning rate at each global step of a run."""

    base: float
    policy: str
    steps_per_epoch: int
    total_steps: int
    decay_epochs: tuple[int, ...] = ()
    warmup_steps: int = 0
    warmup_start: float = 0.0

    def at(self, step: int) -> float:
        """The rate for global step `step` (0-based)."""
        if step < self.warmup_steps:
            return self.warmup_start + (self.base - self.warmup_start) * step / self.warmup_steps
        if self.policy == "Piecewise":
            passed = sum(1 for e in self.decay_epochs if step >= e * self.steps_per_epoch)
            return self.base * 0.1 ** passed
        span = max(self.total_steps - self.warmup_steps, 1)
        done = min(max(step - self.warmup_steps, 0) / span, 1.0)
        if self.policy == "Cosine":
            return self.base * 0.5 * (1 + math.cos(math.pi * done))
        power = 0.9 if self.policy == "Polynomial" else 1.0
        return self.base * (1 - done) ** power


def schedule(params: dict[str, Any], project_type: str, steps_per_epoch: int, num_epochs: int) -> Schedule:
    """The schedule the parameters ask for."""
    base = number(params, "learning_rate", 0.01)
    if not (0 < base < 10):
        raise EngineError(f"training parameter learning_rate={params.get('learning_rate')!r} must be in (0, 10)")
    policy = params.get("lr_policy") or DEFAULT_POLICY.get(project_type, "Piecewise")
    if policy not in POLICIES:
        raise EngineError(f"training parameter lr_policy={policy!r} is not one of {', '.join(POLICIES)}")
    decay = params.get("lr_decay_epochs") or []
    if not isinstance(decay, (list, tuple)) or not all(str(e).lstrip("-").isdigit() for e in decay):
        raise EngineError(f"training parameter lr_decay_epochs={decay!r} must be a list of epoch numbers")
    warmup = int(number(params, "warmup_steps", 0))
    return Schedule(base, policy, steps_per_epoch, steps_per_epoch * num_epochs, tuple(sorted(int(e) for e in decay)),
                    max(warmup, 0), number(params, "warmup_start_lr", 0.0))


def optimizer(params: dict[str, Any], project_type: str, model: paddle.nn.Layer, lr: float) -> paddle.optimizer.Optimizer:
    """Momentum 0.9 (SGD and Momentum), Adam with L2 decay, or AdamW with decoupled decay; `weight_decay`
    (default 1e-4, the original's) as the coefficient; gradients clipped for the models in CLIP_NORM."""
    name = str(params.get("optimizer") or ("SGD" if project_type != "classification" else "Momentum"))
    by_lower = {o.lower(): o for o in OPTIMIZERS}
    if name.lower() not in by_lower:
        raise EngineError(f"training parameter optimizer={name!r} is not one of {', '.join(OPTIMIZERS)}")
    coefficient = number(params, "weight_decay", 1e-4)
    name = by_lower[name.lower()]
    norm = CLIP_NORM.get(str(params.get("model", "")).lower())
    common: dict[str, Any] = {"parameters": model.parameters(),
                              "grad_clip": paddle.nn.ClipGradByGlobalNorm(norm) if norm else None}
    if name == "AdamW":
        return paddle.optimizer.AdamW(lr, weight_decay=coefficient, **common)
    decay = paddle.regularizer.L2Decay(coefficient)
    if name == "Adam":
        return paddle.optimizer.Adam(lr, beta1=0.9, beta2=0.999, weight_decay=decay, **common)
    return paddle.optimizer.Momentum(lr, momentum=0.9, weight_decay=decay, **common)


def epochs_of(params: dict[str, Any]) -> tuple[int, int, int]:
    """(num_epochs, batch_size, save_interval_epochs), checked."""
    values = []
    for key, default, low, high in (("num_epochs", 4, 1, 100_000), ("batch_size", 2, 1, 65_536),
                                    ("save_interval_epochs", 1, 1, 100_000)):
        value = number(params, key, default)
        if value != int(value) or not (low <= value <= high):
            raise EngineError(f"training parameter {key}={params.get(key)!r} must be a whole number from {low} to {high}")
        values.append(int(value))
    return values[0], values[1], values[2]

