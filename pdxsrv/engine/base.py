"""What every project type gives the engine: models, samples, loss, metrics, prediction.

A project type is one module exposing a `KIND` that satisfies `Kind`; `pdxsrv.engine.kinds.KINDS`
lists them. The loop (`pdxsrv.engine.loop`) knows nothing type-specific.

A batch is what `collate` makes of the samples: `(inputs, targets)`. `train_loss(model, inputs,
targets, params)` is one step's loss, `infer(model, inputs)` the eval-mode outputs that
`Metric.update(outputs, targets)` takes. `Stacked` gives the usual case (images float32 C x H x W,
already normalised, and labels, each stacked with numpy); a type with per-image targets of their
own length (detection) defines the three itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np


class EngineError(Exception):
    """A problem the user can fix (bad parameter, unsupported model, missing weights): said plainly."""


@dataclass(frozen=True)
class DataSpec:
    """An imported, split dataset as the engine reads it."""

    root: str  # the dataset directory in the workspace
    labels: list[str]
    file_info: dict[str, Any]  # image path (relative to root) -> label name or annotation path
    parts: dict[str, list[str]]  # "train" | "val" | "test" -> image paths
    bands: int = 3

    @property
    def num_classes(self) -> int:
        """The number of classes the model predicts."""
        return len(self.labels)


@dataclass
class Prediction:
    """One predicted image: what the API returns and the picture drawn for /file."""

    result: dict[str, Any]
    visual: np.ndarray  # BGR uint8 H x W x 3
    extra: dict[str, Any] = field(default_factory=dict)


class Metric(Protocol):
    """Accumulates predictions over an evaluation pass."""

    def update(self, outputs: Any, labels: np.ndarray) -> None:
        """Add one batch of model outputs (eval mode) and their labels."""

    def summary(self) -> dict[str, float]:
        """The numbers reported per evaluation during training (first key is the one maximised)."""

    def report(self, labels: Sequence[str], **options: Any) -> dict[str, Any]:
        """The evaluation report in the original's shape (§4.12)."""


class Kind(Protocol):
    """One project type."""

    name: str
    models: tuple[str, ...]
    balanced_batches: bool  # batches mix the classes in their shares (image -> class in DataSpec.file_info)
    fresh_bn_stats: bool  # batch-norm statistics are recomputed before each evaluation (pdxsrv.engine.bn_stats)

    def build_model(self, model: str, num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
        """A paddle.nn.Layer for `model` (EngineError if it is not one of `models`)."""

    def sample(self, data: DataSpec, image: str, train: bool, rng: np.random.Generator,
               params: dict[str, Any], epoch: int = 0) -> tuple[np.ndarray, Any]:
        """(image array, label) of one dataset image, augmented when `train` as of 0-based `epoch`."""

    def loss(self, outputs: Any, labels: Any, params: dict[str, Any]) -> Any:
        """The scalar training loss of a batch (paddle tensors in, paddle tensor out)."""

    def new_metric(self, num_classes: int) -> Metric:
        """An empty metric accumulator."""

    def predict(self, model: Any, path: str, data: DataSpec, params: dict[str, Any],
                options: dict[str, Any]) -> Prediction:
        """Run the model (eval mode) on the image at `path` and draw the result."""

    def collate(self, samples: Sequence[tuple[np.ndarray, Any]]) -> tuple[Any, Any]:
        """(inputs, targets) of a batch of samples."""

    def train_loss(self, model: Any, inputs: Any, targets: Any, params: dict[str, Any]) -> Any:
        """The scalar loss of one training batch (the model in train mode)."""

    def infer(self, model: Any, inputs: Any) -> Any:
        """The model's eval-mode outputs for a batch (what the metric takes)."""


class Stacked:
    """`collate`, `train_loss` and `infer` of a type whose samples are one image array and one label array."""

    balanced_batches = False
    fresh_bn_stats = True

    def collate(self, samples: Sequence[tuple[np.ndarray, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels, each stacked."""
        return np.stack([s[0] for s in samples]), np.stack([np.asarray(s[1]) for s in samples])

    def train_loss(self, model: Any, inputs: np.ndarray, targets: np.ndarray, params: dict[str, Any]) -> Any:
        """The kind's `loss` of the model's outputs."""
        import paddle

        return self.loss(model(paddle.to_tensor(inputs)), paddle.to_tensor(targets), params)  # type: ignore[attr-defined]

    def infer(self, model: Any, inputs: np.ndarray) -> Any:
        """The model's outputs."""
        import paddle

        return model(paddle.to_tensor(inputs))
