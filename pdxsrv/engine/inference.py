"""Using a saved checkpoint: load it, evaluate it on a dataset part, predict images with it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import paddle

from pdxsrv.engine import checkpoint, data as data_mod, prune
from pdxsrv.engine.base import DataSpec, EngineError, Kind, Prediction
from pdxsrv.engine.kinds import kind_of
from pdxsrv.engine.loop import build, evaluate, use_device
from pdxsrv.engine.schedule import epochs_of

Progress = Callable[[int, int], None]


@dataclass
class Trained:
    """A network restored from a checkpoint, in eval mode, with what its meta.json says."""

    kind: Kind
    model: paddle.nn.Layer
    meta: dict[str, Any]

    @property
    def data(self) -> DataSpec:
        """A DataSpec carrying only the labels and band count the model was trained with."""
        return spec_of(self.meta)


def spec_of(meta: dict[str, Any]) -> DataSpec:
    """A DataSpec with no images, carrying the labels and band count of a checkpoint."""
    return DataSpec("", list(meta["labels"]), {}, {"train": [], "val": [], "test": []}, int(meta.get("in_channels") or 3))


def load_trained(model_dir: str) -> Trained:
    """The model saved in `model_dir` (an `output/epoch_N` or `output/best_model`)."""
    use_device()
    meta = checkpoint.read_meta(model_dir)
    kind = kind_of(meta["project_type"])
    model = prune.reshape_to(build(kind, spec_of(meta), meta["params"]), meta.get("pruned"))
    checkpoint.load(model_dir, model)
    model.eval()
    return Trained(kind, model, meta)


def evaluate_on(trained: Trained, dataset: DataSpec, options: dict[str, Any],
                progress: Progress | None = None) -> dict[str, Any]:
    """The report (original shapes) of the model on the dataset's val set (its test set when val is empty)."""
    metric, part, images = _metric_on(trained, dataset, progress)
    report = metric.report(list(trained.meta["labels"]), **options)
    return {**report, "part": part, "images": len(images)}


def summary_on(trained: Trained, dataset: DataSpec) -> dict[str, float]:
    """The headline metrics (those training reports per epoch) of the model on the val (else test) set."""
    return _metric_on(trained, dataset, None)[0].summary()


def val_part(trained: Trained, dataset: DataSpec) -> tuple[str, list[str], DataSpec, int]:
    """(part, its images, the dataset with the model's labels, batch size) a model is evaluated on: val, else test."""
    part = "val" if dataset.parts["val"] else "test"
    images = dataset.parts[part]
    if not images:
        raise EngineError("the dataset has no val or test images to evaluate on; split it with a val share")
    _, batch_size, _ = epochs_of(trained.meta["params"])
    return part, images, replace(dataset, labels=list(trained.meta["labels"])), batch_size


def _metric_on(trained: Trained, dataset: DataSpec, progress: Progress | None) -> tuple[Any, str, list[str]]:
    part, images, dataset, batch_size = val_part(trained, dataset)
    loader = data_mod.Loader(trained.kind, dataset, trained.meta["params"])
    try:
        metric = evaluate(trained.kind, trained.model, loader, images, batch_size, progress)
    finally:
        loader.close()
    trained.model.eval()
    return metric, part, images


def predict(trained: Trained, path: str, options: dict[str, Any]) -> Prediction:
    """One image's prediction and drawing."""
    with paddle.no_grad():
        return trained.kind.predict(trained.model, path, trained.data, trained.meta["params"], options)
