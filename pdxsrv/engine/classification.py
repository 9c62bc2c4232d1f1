"""Image classification: paddle.vision models, ImageNet-style augmentation, top-k metrics and report.

The model names are the original's (PaddleX 2.x `pdx.cls.*`) for the architectures that
`paddle.vision.models` provides; "_ssld" names only chose pretrained weights there, so they build the
same network. Paddle is imported on first use, so listing `KIND.models` stays cheap.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import cv2
import numpy as np

from pdxsrv.engine import augment
from pdxsrv.engine.base import DataSpec, EngineError, Prediction, Stacked
from pdxsrv.engine.strides import fit_strides

# Model name -> paddle.vision.models constructor.
ARCHITECTURES: dict[str, str] = {
    "MobileNetV1": "mobilenet_v1",
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3_small": "mobilenet_v3_small",
    "MobileNetV3_large": "mobilenet_v3_large",
    "MobileNetV3_small_ssld": "mobilenet_v3_small",
    "MobileNetV3_large_ssld": "mobilenet_v3_large",
    "ResNet18": "resnet18",
    "ResNet34": "resnet34",
    "ResNet50": "resnet50",
    "ResNet101": "resnet101",
    "ResNet152": "resnet152",
    "ShuffleNetV2": "shufflenet_v2_x1_0",
    "DenseNet121": "densenet121",
    "DenseNet161": "densenet161",
    "DenseNet169": "densenet169",
    "DenseNet201": "densenet201",
}
DEFAULT_TOPK = 5
VISUAL_SHORT_SIDE = 224


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of N x C scores."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def resolve_topk(value: Any, num_classes: int) -> int:
    """A top-k request (None -> 5) as an int clipped to the class count; EngineError when not a positive integer."""
    if value is None or value == "":
        value = DEFAULT_TOPK
    try:
        number = float(value)
        k = int(number)
    except (TypeError, ValueError, OverflowError):
        k = number = 0
    if isinstance(value, bool) or k != number or k < 1:
        raise EngineError(f"topk={value!r} must be a positive integer")
    return max(1, min(k, num_classes))


def _numpy(x: Any) -> np.ndarray:
    """A paddle tensor (or array-like) as a numpy array."""
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


class ClassificationMetric:
    """Softmax scores and true labels of an evaluation pass, with the original's report."""

    def __init__(self, num_classes: int) -> None:
        """An empty accumulator for `num_classes` classes."""
        self.num_classes = num_classes
        self.scores: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def update(self, outputs: Any, labels: np.ndarray) -> None:
        """Add a batch of logits (N x C) and labels (N or N x 1)."""
        logits = _numpy(outputs).astype(np.float64).reshape(-1, self.num_classes)
        self.scores.append(softmax(logits))
        self.labels.append(_numpy(labels).astype(np.int64).reshape(-1))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(scores N x C, labels N) accumulated so far."""
        if not self.scores:
            return np.zeros((0, self.num_classes)), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.scores), np.concatenate(self.labels)

    def accuracy(self, k: int) -> tuple[float, float]:
        """(top-1, top-k) accuracy."""
        scores, labels = self.arrays()
        if labels.size == 0:
            return 0.0, 0.0
        ranked = np.argsort(-scores, axis=1, kind="stable")
        top1 = float(np.mean(ranked[:, 0] == labels))
        topk = float(np.mean((ranked[:, :k] == labels[:, None]).any(axis=1)))
        return top1, topk

    def summary(self) -> dict[str, float]:
        """{"acc1", "acc<k>"} with k = min(5, classes), named as the original's logs named them (acc5)."""
        k = min(DEFAULT_TOPK, self.num_classes)
        acc1, acck = self.accuracy(k)
        return {"acc1": acc1, f"acc{k}": acck}

    def report(self, labels: Sequence[str], topk: Any = None, **options: Any) -> dict[str, Any]:
        """The original's classification report (§4.12); averages weighted by class support, as there."""
        k = resolve_topk(topk, self.num_classes)
        scores, truth = self.arrays()
        predicted = scores.argmax(axis=1) if truth.size else truth
        n = self.num_classes
        matrix = np.bincount(truth * n + predicted, minlength=n * n).reshape(n, n)
        prf1: dict[str, dict[str, float]] = {}
        average = {"precision": 0.0, "recall": 0.0, "F1": 0.0}
        for c, name in enumerate(labels):
            support, chosen, hits = int(matrix[c].sum()), int(matrix[:, c].sum()), int(matrix[c, c])
            if support == 0:
                prf1[name] = {"precision": -1.0, "recall": -1.0, "F1": -1.0, "auc": -1.0}
                continue
            entry = {"precision": hits / chosen if chosen else 0.0, "recall": hits / support,
                     "F1": 2 * hits / (chosen + support), "auc": one_vs_rest_auc(truth == c, scores[:, c])}
            prf1[name] = entry
            for key in average:
                average[key] += entry[key] * support / truth.size
        acc1, acck = self.accuracy(k)
        return {"Confusion_Matrix": matrix.tolist(), "PRF1": prf1, "PRF1_average": {"over_all": average},
                "Acc1": acc1, "Acck": acck, "topk": k, "label_list": list(labels)}


def one_vs_rest_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of `scores` for the boolean `positive` (-1 when one side is empty)."""
    if positive.all() or not positive.any():
        return -1.0
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores))


class ClassificationKind(Stacked):
    """The "classification" project type."""

    name = "classification"
    models: tuple[str, ...] = tuple(ARCHITECTURES)
    balanced_batches = True

    def build_model(self, model: str, num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
        """A randomly initialised paddle.vision network with `num_classes` outputs, its strides fitted to
        `image_shape` (pdxsrv.engine.strides)."""
        if model not in ARCHITECTURES:
            raise EngineError(f"classification model {model!r} is not supported; supported: {', '.join(self.models)}")
        if in_channels != 3:
            raise EngineError(f"classification models take 3-band (RGB) images, not {in_channels} bands")
        import paddle.vision.models as models

        network = getattr(models, ARCHITECTURES[model])(pretrained=False, num_classes=num_classes)
        fit_strides(network, augment.image_shape(params))
        return network

    def sample(self, data: DataSpec, image: str, train: bool, rng: np.random.Generator,
               params: dict[str, Any], epoch: int = 0) -> tuple[np.ndarray, np.int64]:
        """(normalised C x H x W image, label index): random crop, flips and distortion when training."""
        img = augment.read_rgb(os.path.join(data.root, image))
        size = augment.image_shape(params)
        if train:
            img = augment.random_crop(img, size, rng)
            img = augment.flips([img], params, rng, vertical_default=True)[0]
            img = augment.distort(np.ascontiguousarray(img), params, rng)
        else:
            img = augment.center_crop(img, size)
        return augment.normalize(img, params), np.int64(data.labels.index(data.file_info[image]))

    def loss(self, outputs: Any, labels: Any, params: dict[str, Any]) -> Any:
        """Mean softmax cross-entropy of N x C logits against N (or N x 1) class indices."""
        import paddle
        import paddle.nn.functional as F

        if not isinstance(labels, paddle.Tensor):
            labels = paddle.to_tensor(np.asarray(labels))
        logits = outputs.reshape([-1, outputs.shape[-1]])
        return F.cross_entropy(logits, labels.astype("int64").reshape([-1])).mean()

    def new_metric(self, num_classes: int) -> ClassificationMetric:
        """An empty top-k / report accumulator."""
        return ClassificationMetric(num_classes)

    def predict(self, model: Any, path: str, data: DataSpec, params: dict[str, Any],
                options: dict[str, Any]) -> Prediction:
        """Top-k classes of one image, and the image with them written on a dark band."""
        import paddle

        k = resolve_topk(options.get("topk", DEFAULT_TOPK), data.num_classes)
        rgb = augment.read_rgb(path)
        x = augment.normalize(augment.center_crop(rgb, augment.image_shape(params)), params)
        model.eval()
        with paddle.no_grad():
            logits = _numpy(model(paddle.to_tensor(x[None])))
        scores = softmax(logits.astype(np.float64).reshape(1, -1))[0]
        ranked = np.argsort(-scores, kind="stable")[:k]
        top = [{"category": data.labels[i], "category_id": int(i), "score": float(scores[i])} for i in ranked]
        result = {**top[0], "topk": top}
        return Prediction(result, draw(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), top))


def draw(bgr: np.ndarray, top: list[dict[str, Any]]) -> np.ndarray:
    """The image (short side at least 224 px) above a dark band listing the top-k classes and scores."""
    h, w = bgr.shape[:2]
    scale = max(1.0, VISUAL_SHORT_SIDE / min(h, w))
    if scale > 1.0:
        bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    line = 24
    band = np.full((line * len(top) + 8, bgr.shape[1], 3), 32, dtype=np.uint8)
    for row, item in enumerate(top):
        name = item["category"] if item["category"].isascii() else f"class {item['category_id']}"
        colour = (80, 220, 255) if row == 0 else (235, 235, 235)
        cv2.putText(band, f"{row + 1}. {name}  {item['score']:.3f}", (8, line * (row + 1) - 4),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_AA)
    return np.ascontiguousarray(np.vstack([bgr, band]))


KIND = ClassificationKind()
