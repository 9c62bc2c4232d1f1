"""Every model the API accepts trains one short epoch through the real loop: steps, evaluation, checkpoints.

Classification and segmentation models are also exported and verified here (detection models in
test_engine_det_models, from a network that has not trained), except HRNet_W18 and DeepLabV3P,
whose tracing takes minutes on 2 cores: `python bench/export_check.py` covers every model.
"""

from __future__ import annotations

import math
import os
import shutil
from typing import Any

import numpy as np
import pytest

from pdxsrv.datasets import readers, synthetic
from pdxsrv.domain.params import MODELS
from pdxsrv.engine import checkpoint, export, inference, loop
from pdxsrv.engine.base import DataSpec
from pdxsrv.engine.kinds import KINDS

SIZE = {"classification": 32, "segmentation": 64, "remote_segmentation": 64, "detection": 160,
        "instance_segmentation": 128}
SLOW_TO_TRACE = ("HRNet_W18", "DeepLabV3P")
CASES = [(project_type, model) for project_type in KINDS for model in MODELS[project_type]]


class Recorder:
    """Keeps what the loop reports."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []

    def progress(self, **kv: Any) -> None:
        """Keep step reports."""
        self.steps.append(kv)

    def metric(self, **kv: Any) -> None:
        """Keep evaluations."""
        self.metrics.append(kv)

    def log(self, message: str, level: str = "info") -> None:
        """Drop log lines."""


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DataSpec]:
    out = {}
    for project_type in KINDS:
        root = str(tmp_path_factory.mktemp(project_type) / "data")
        synthetic.make(project_type, root, images=6, size=64)
        found = readers.READERS[project_type](root, None).details()
        images = sorted(found["file_info"])
        out[project_type] = DataSpec(root, found["labels"], found["file_info"],
                                     {"train": images[:4], "val": images[4:], "test": []}, found["bands"])
    return out


@pytest.mark.parametrize("project_type,model", CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_every_accepted_model_trains_one_epoch(datasets: dict[str, DataSpec], tmp_path, project_type: str,
                                               model: str) -> None:
    size = SIZE[project_type]
    params = {"model": model, "num_epochs": 1, "batch_size": 2, "learning_rate": 0.001, "save_interval_epochs": 1,
              "image_shape": [size, size], "optimizer": "Adam" if project_type != "classification" else None}
    recorder = Recorder()
    output = str(tmp_path / "output")
    outcome = loop.train(loop.Run(output, project_type, datasets[project_type], params), recorder)
    assert outcome["epoch"] == 1 and not outcome["stopped"]
    steps = [p for p in recorder.steps if "phase" not in p]
    assert steps[-1]["step"] == 2 and all(math.isfinite(p["loss"]) for p in steps)
    assert recorder.metrics[0]["epoch"] == 1
    for name in ("epoch_1", checkpoint.BEST):
        assert checkpoint.read_meta(os.path.join(output, name))["model"] == model
    if project_type not in export.DETECTION_TYPES and model not in SLOW_TO_TRACE:
        trained = inference.load_trained(os.path.join(output, checkpoint.BEST))
        data = datasets[project_type]
        sample = trained.kind.sample(data, data.parts["val"][0], False, np.random.default_rng(0), params)
        config = export.export_trained(trained, str(tmp_path), sample)  # raises unless the program matches
        assert config["Model"] == model and os.path.isfile(tmp_path / "inference.pdiparams")
    shutil.rmtree(output)  # the big ones are hundreds of MB
