"""The classification project type: every model trains, unsupported names fail plainly, the report, predict."""

from __future__ import annotations

import os

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")

from pdxsrv.datasets import synthetic  # noqa: E402
from pdxsrv.datasets.readers import READERS  # noqa: E402
from pdxsrv.engine.base import DataSpec, EngineError, Prediction  # noqa: E402
from pdxsrv.engine.classification import KIND, ClassificationMetric  # noqa: E402

PARAMS = {"image_shape": [32, 32], "vertical_flip_prob": 0.5}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DataSpec:
    """An 8-image, 3-class generated dataset, every image in train and val."""
    root = str(tmp_path_factory.mktemp("cls") / "data")
    synthetic.make("classification", root, images=8, size=64)
    details = READERS["classification"](root, None).details()
    images = sorted(details["file_info"])
    return DataSpec(root, details["labels"], details["file_info"], {"train": images, "val": images, "test": []}, 3)


def batch(data: DataSpec, train: bool, count: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """`count` samples stacked as the loop does."""
    rng = np.random.default_rng(0)
    samples = [KIND.sample(data, image, train, rng, PARAMS) for image in data.parts["train"][:count]]
    return np.stack([s[0] for s in samples]), np.stack([s[1] for s in samples])


def test_sample_shapes_and_labels(data: DataSpec) -> None:
    images, labels = batch(data, train=True, count=4)
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.float32
    assert labels.dtype == np.int64
    expected = [data.labels.index(data.file_info[i]) for i in data.parts["train"][:4]]
    assert labels.tolist() == expected
    first, second = batch(data, train=False)[0], batch(data, train=False)[0]
    assert np.array_equal(first, second)  # evaluation transform is deterministic


@pytest.mark.parametrize("name", ["ResNet50_vd", "Xception65", "DarkNet53", "PPLCNet", "resnet18"])
def test_unsupported_model_names_list_the_supported_ones(name: str) -> None:
    with pytest.raises(EngineError) as err:
        KIND.build_model(name, 3, 3, {})
    assert name in str(err.value)
    assert all(supported in str(err.value) for supported in KIND.models)


def test_other_band_counts_are_refused() -> None:
    with pytest.raises(EngineError, match="4 bands"):
        KIND.build_model("MobileNetV2", 3, 4, {})


def test_loss_takes_flat_or_column_labels() -> None:
    logits = paddle.to_tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    flat = KIND.loss(logits, paddle.to_tensor(np.array([0, 1], dtype=np.int64)), {})
    column = KIND.loss(logits, np.array([[0], [1]], dtype=np.int64), {})
    single = KIND.loss(logits[:1], np.int64(0), {})
    assert flat.shape == [] and abs(float(flat) - float(column)) < 1e-6
    expected = -np.log(np.exp(2.0) / (np.exp(2.0) + 1 + np.exp(-1.0)))
    assert abs(float(single) - expected) < 1e-5


# Seven hand-made predictions over four classes ("d" never occurs). Rows are softmax probabilities.
PROBS = np.array([
    [0.60, 0.22, 0.11, 0.07],  # a -> a
    [0.30, 0.41, 0.19, 0.10],  # a -> b (a second)
    [0.12, 0.70, 0.13, 0.05],  # b -> b
    [0.21, 0.09, 0.62, 0.08],  # b -> c (b third)
    [0.14, 0.23, 0.57, 0.06],  # c -> c
    [0.50, 0.15, 0.31, 0.04],  # c -> a (c second)
    [0.80, 0.08, 0.09, 0.03],  # a -> a
])
TRUTH = np.array([0, 0, 1, 1, 2, 2, 0])
LABELS = ["a", "b", "c", "d"]


def hand_made_metric() -> ClassificationMetric:
    """The metric after two batches of the hand-made case (labels as N x 1, then N)."""
    metric = KIND.new_metric(4)
    metric.update(paddle.to_tensor(np.log(PROBS[:3]).astype(np.float32)), TRUTH[:3, None])
    metric.update(np.log(PROBS[3:]), TRUTH[3:])
    return metric


def test_report_matches_the_hand_computed_numbers() -> None:
    metric = hand_made_metric()
    assert list(metric.summary()) == ["acc1", "acc4"]
    assert metric.summary() == pytest.approx({"acc1": 4 / 7, "acc4": 1.0})  # k = min(5, 4) = 4
    report = metric.report(LABELS, topk=2)
    assert report["Confusion_Matrix"] == [[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert report["Acc1"] == pytest.approx(4 / 7) and report["Acck"] == pytest.approx(6 / 7)
    assert report["topk"] == 2 and report["label_list"] == LABELS
    prf1 = report["PRF1"]
    assert prf1["a"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "F1": 2 / 3, "auc": 11 / 12})
    assert prf1["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "F1": 0.5, "auc": 0.6})
    assert prf1["c"] == pytest.approx({"precision": 0.5, "recall": 0.5, "F1": 0.5, "auc": 0.8})
    assert prf1["d"] == {"precision": -1.0, "recall": -1.0, "F1": -1.0, "auc": -1.0}
    # The original weights each present class by its share of the samples: (3 * 2/3 + 2 * 0.5 + 2 * 0.5) / 7.
    assert report["PRF1_average"] == {"over_all": pytest.approx({"precision": 4 / 7, "recall": 4 / 7, "F1": 4 / 7})}
    assert isinstance(report["Confusion_Matrix"][0][0], int) and isinstance(report["Acc1"], float)


def test_report_topk_default_clipping_and_validation() -> None:
    metric = hand_made_metric()
    assert metric.report(LABELS)["topk"] == 4
    assert metric.report(LABELS, topk=10)["topk"] == 4
    assert metric.report(LABELS, topk="1")["Acck"] == pytest.approx(4 / 7)
    for bad in (0, -1, 2.5, "x", True, [2]):
        with pytest.raises(EngineError, match="topk"):
            metric.report(LABELS, topk=bad)


def test_empty_report_does_not_crash() -> None:
    report = KIND.new_metric(2).report(["x", "y"])
    assert report["Confusion_Matrix"] == [[0, 0], [0, 0]] and report["Acc1"] == 0.0


class Fixed(paddle.nn.Layer):
    """A 'model' that always prefers class 1, then 2, then 0."""

    def forward(self, x: "paddle.Tensor") -> "paddle.Tensor":
        return paddle.to_tensor([[0.0, 3.0, 1.0]]).tile([x.shape[0], 1])


def test_predict_returns_the_top_class_and_a_visual(data: DataSpec) -> None:
    path = os.path.join(data.root, data.parts["train"][0])
    prediction = KIND.predict(Fixed(), path, data, PARAMS, {"topk": 2})
    assert isinstance(prediction, Prediction)
    result = prediction.result
    assert result["category"] == data.labels[1] and result["category_id"] == 1
    assert [t["category_id"] for t in result["topk"]] == [1, 2]
    assert result["score"] == pytest.approx(np.exp(3) / (1 + np.exp(3) + np.exp(1)))
    visual = prediction.visual
    assert visual.dtype == np.uint8 and visual.ndim == 3 and visual.shape[2] == 3
    assert min(visual.shape[:2]) >= 224 and visual.shape[0] > visual.shape[1]  # the 64 px image upscaled, plus the band
    default = KIND.predict(Fixed(), path, data, PARAMS, {}).result
    assert len(default["topk"]) == 3  # 5 by default, clipped to the 3 classes


def test_predict_with_a_real_network(data: DataSpec) -> None:
    model = KIND.build_model("MobileNetV3_small", data.num_classes, 3, PARAMS)
    path = os.path.join(data.root, data.parts["train"][0])
    result = KIND.predict(model, path, data, PARAMS, {"topk": 1}).result
    assert result["category"] in data.labels and len(result["topk"]) == 1
    assert 0.0 < result["score"] <= 1.0
