"""The segmentation project types: every listed model trains on its own samples, the metric report, prediction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pdxsrv.datasets import readers, synthetic
from pdxsrv.engine.base import DataSpec, EngineError
from pdxsrv.engine.segmentation import KIND, REMOTE_KIND

paddle = pytest.importorskip("paddle")
pytest.importorskip("paddleseg")

# Every augmentation switched on, so that training samples go through all of them.
TRAIN_PARAMS = {
    "image_shape": [64, 64], "blur": True, "blur_prob": 1.0, "scale_aspect": True, "min_ratio": 0.5,
    "aspect_ratio": 0.33, "horizontal_flip": True, "vertical_flip": "true", "vertical_flip_prob": 0.5,
    "brightness": True, "contrast": True, "saturation": True, "hue": True, "loss_type": [True, "true"],
    "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
}


def _dataset(kind: str, root: str) -> DataSpec:
    synthetic.make(kind, root, images=8, size=64)
    details = readers.READERS[kind](root, None).details()
    images = sorted(details["file_info"])
    return DataSpec(root, details["labels"], details["file_info"], {"train": images, "val": images, "test": []},
                    details["bands"])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DataSpec]:
    base = tmp_path_factory.mktemp("segdata")
    return {kind: _dataset(kind, str(base / kind)) for kind in ("segmentation", "remote_segmentation")}


def _batch(kind, data: DataSpec, train: bool, params: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    pairs = [kind.sample(data, image, train, rng, params) for image in data.parts["train"][:2]]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


# Every model trains through the loop in test_engine_models.py; here one light model checks the
# samples with every augmentation and both extra losses switched on.
CASES = [(KIND, "BiSeNetV2"), (REMOTE_KIND, "BiSeNetV2")]


@pytest.mark.parametrize("kind,model_name", CASES, ids=[f"{k.name}-{m}" for k, m in CASES])
def test_augmented_samples_and_every_loss_train(datasets, kind, model_name):
    data = datasets[kind.name]
    assert data.bands == (4 if kind is REMOTE_KIND else 3)
    images, labels = _batch(kind, data, True, TRAIN_PARAMS)
    assert images.shape == (2, data.bands, 64, 64) and images.dtype == np.float32
    assert labels.shape == (2, 64, 64) and labels.dtype == np.int64
    assert set(np.unique(labels)) <= set(range(data.num_classes)) | {255}
    paddle.seed(0)
    model = kind.build_model(model_name, data.num_classes, data.bands, {})
    model.train()
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    for _ in range(2):
        loss = kind.loss(model(paddle.to_tensor(images)), paddle.to_tensor(labels), TRAIN_PARAMS)
        assert loss.size == 1 and math.isfinite(float(loss))
        loss.backward()
        opt.step()
        opt.clear_grad()
    model.eval()
    metric = kind.new_metric(data.num_classes)
    with paddle.no_grad():
        metric.update(model(paddle.to_tensor(images)), labels)
    summary = metric.summary()
    assert list(summary) == ["miou", "acc", "macc"] and 0 <= summary["miou"] <= 1


def test_unknown_model_and_backbone_are_refused():
    with pytest.raises(EngineError, match="UNet"):
        KIND.build_model("SegFormer", 3, 3, {})
    with pytest.raises(EngineError, match="ResNet101_vd"):
        KIND.build_model("DeepLabV3P", 3, 3, {"backbone": "MobileNetV3"})


def test_loss_options_from_strings_and_numpy_labels():
    logits = paddle.to_tensor(np.random.default_rng(1).normal(size=(1, 3, 8, 8)).astype("float32"))
    labels = np.random.default_rng(2).integers(0, 3, size=(1, 16, 16)).astype(np.uint8)
    labels[0, :4] = 255
    plain = float(KIND.loss([logits], labels, {}))
    both = float(KIND.loss([logits], labels, {"loss_type": "[true, true]"}))
    assert math.isfinite(plain) and both > plain


def test_metric_report_on_a_hand_made_case():
    truth = np.array([[[0, 0, 1, 1], [1, 255, 2, 2]]])
    pred = np.array([[[0, 1, 1, 1], [0, 0, 2, 1]]])
    logits = paddle.to_tensor(np.eye(4, dtype=np.float32)[pred].transpose(0, 3, 1, 2))
    metric = KIND.new_metric(4)
    metric.update([logits], truth)
    assert metric.matrix.tolist() == [[1, 1, 0, 0], [1, 2, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    summary = metric.summary()
    assert summary["miou"] == pytest.approx((1 / 3 + 2 / 5 + 1 / 2) / 3)
    assert summary["acc"] == pytest.approx(4 / 7)
    assert summary["macc"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    labels = ["background", "a", "b", "c"]
    report = metric.report(labels)
    assert report["Confusion_Matrix"] == metric.matrix.tolist() and report["label_list"] == labels
    assert report["Mean_IoU"] == pytest.approx(summary["miou"]) and report["Mean_Acc"] == pytest.approx(summary["macc"])
    assert report["PRIoU"]["a"] == pytest.approx({"precision": 0.5, "recall": 2 / 3, "iou": 0.4})
    assert report["PRIoU"]["b"] == pytest.approx({"precision": 1.0, "recall": 0.5, "iou": 0.5})
    assert report["PRIoU"]["c"] == {"precision": -1.0, "recall": -1.0, "iou": -1.0}


@pytest.mark.parametrize("kind", [KIND, REMOTE_KIND], ids=lambda k: k.name)
def test_predict_draws_at_the_original_size(datasets, kind):
    data = datasets[kind.name]
    model = kind.build_model("BiSeNetV2", data.num_classes, data.bands, {})
    model.eval()
    image = data.parts["test"] or data.parts["val"]
    path = f"{data.root}/{image[0]}"
    pred = kind.predict(model, path, data, {"image_shape": [32, 48]}, {"bands": [2, 1, 0]})
    assert pred.visual.shape == (64, 64, 3) and pred.visual.dtype == np.uint8
    assert pred.extra["mask"].shape == (64, 64)
    classes = pred.result["label_map_classes"]
    assert classes == sorted(classes) and set(classes) <= set(data.labels)
    assert sum(pred.result["class_pixels"].values()) == 64 * 64


def test_the_api_accepts_exactly_the_models_the_engine_trains() -> None:
    from pdxsrv.domain.params import MODELS
    from pdxsrv.engine.kinds import KINDS

    for project_type, kind in KINDS.items():
        assert set(kind.models) == set(MODELS[project_type]), project_type
    from pdxsrv.domain.params import BACKBONES
    from pdxsrv.engine.det_models import BUILDERS

    assert set(BACKBONES) == set(BUILDERS)
