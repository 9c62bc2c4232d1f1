"""Semantic segmentation project types: `KIND` (RGB images) and `REMOTE_KIND` (multi-band rasters).

Both are one class: only the image reader (and so the band count the model is built for) differs.
Labels are single-channel PNGs of class indices, 255 = ignore. paddleseg's own loss and metrics fail
on paddle 3 (int/float promotion, 0-D tensors), so the loss is built from `paddle.nn.functional`
and the metric is a numpy confusion matrix. paddle is imported on first use.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from pdxsrv.datasets.visualize import PALETTE
from pdxsrv.engine import augment, seg_models
from pdxsrv.engine.base import DataSpec, EngineError, Prediction, Stacked

IGNORE = 255
AUX_WEIGHT = 0.4
DEFAULT_SHAPE = (512, 512)
EPS = 1e-6


def read_label(path: str) -> np.ndarray:
    """A label PNG (grey or palette) as H x W uint8 class indices."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                label = np.asarray(im)
    except (OSError, ValueError) as exc:
        raise EngineError(f"{os.path.basename(path)} cannot be read as a label PNG ({exc})") from None
    if label.ndim != 2:
        raise EngineError(f"{os.path.basename(path)} is not a single-channel label PNG")
    return label.astype(np.uint8)


def scale_aspect(img: np.ndarray, label: np.ndarray, params: dict[str, Any],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """PaddleX's RandomScaleAspect: crop a random area (min_ratio..1) and aspect, resized back to the size."""
    min_ratio, aspect = augment.number(params, "min_ratio", 0.5), augment.number(params, "aspect_ratio", 0.33)
    h, w = label.shape
    if not (0 < min_ratio <= 1 and 0 < aspect <= 1):
        return img, label
    for _ in range(10):
        area = h * w * rng.uniform(min_ratio, 1.0)
        ratio = rng.uniform(aspect, 1.0 / aspect)
        cw, ch = int(np.sqrt(area * ratio)), int(np.sqrt(area / ratio))
        if rng.random() < 0.5:
            cw, ch = ch, cw
        if 0 < ch < h and 0 < cw < w:
            y, x = int(rng.integers(0, h - ch)), int(rng.integers(0, w - cw))
            return (augment.resize(img[y:y + ch, x:x + cw], (w, h)),
                    augment.resize(label[y:y + ch, x:x + cw], (w, h), nearest=True))
    return img, label


def loss_switches(params: dict[str, Any]) -> tuple[bool, bool]:
    """(use_dice, use_bce) from `loss_type`: a list of two booleans or strings, or a string of them."""
    value = params.get("loss_type") or []
    if isinstance(value, str):
        value = value.strip("[]() ").split(",")
    value = list(value) + [False, False]
    dice, bce = (augment.flag({"v": v.strip() if isinstance(v, str) else v}, "v", False) for v in value[:2])
    return dice, bce


def _first(outputs: Any) -> Any:
    """The main logits of a model's outputs (a list in paddleseg, main first)."""
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def _fit(logit: Any, size: Sequence[int]) -> Any:
    """`logit` resized (bilinear) to the label's H x W when they differ."""
    import paddle.nn.functional as F

    if list(logit.shape[-2:]) != list(size):
        return F.interpolate(logit, size=list(size), mode="bilinear", align_corners=False)
    return logit


def _one_hot(logit: Any, labels: Any) -> tuple[Any, Any]:
    """(N x C x H x W float32 one-hot labels, N x 1 x H x W float32 valid-pixel mask)."""
    import paddle
    import paddle.nn.functional as F

    valid = labels != IGNORE
    safe = paddle.where(valid, labels, paddle.zeros_like(labels))
    onehot = F.one_hot(safe, logit.shape[1]).transpose([0, 3, 1, 2]).astype("float32")
    mask = valid.astype("float32").unsqueeze(1)
    return onehot * mask, mask


def dice_loss(logit: Any, labels: Any) -> Any:
    """1 - the soft Dice coefficient of the softmax and the one-hot labels, averaged over classes."""
    import paddle.nn.functional as F

    onehot, mask = _one_hot(logit, labels)
    probs = F.softmax(logit, axis=1) * mask
    inter = (probs * onehot).sum(axis=[0, 2, 3])
    denom = probs.sum(axis=[0, 2, 3]) + onehot.sum(axis=[0, 2, 3])
    return 1.0 - ((2.0 * inter + EPS) / (denom + EPS)).mean()


def bce_loss(logit: Any, labels: Any) -> Any:
    """One-vs-rest sigmoid cross-entropy over the valid pixels."""
    import paddle.nn.functional as F

    onehot, mask = _one_hot(logit, labels)
    per_pixel = F.binary_cross_entropy_with_logits(logit, onehot, reduction="none") * mask
    return per_pixel.sum() / (mask.sum() * logit.shape[1] + EPS)


def _label_tensor(labels: Any) -> Any:
    """Labels as an int64 paddle tensor (N x H x W)."""
    import paddle

    if not isinstance(labels, paddle.Tensor):
        labels = paddle.to_tensor(np.asarray(labels))
    return labels.astype("int64") if labels.dtype != paddle.int64 else labels


def _to_numpy(value: Any) -> np.ndarray:
    """A paddle tensor or array-like as a numpy array."""
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _argmax(outputs: Any, size: Sequence[int]) -> np.ndarray:
    """N x H x W int64 predicted classes from a model's main logits, at `size`."""
    import paddle

    return paddle.argmax(_fit(_first(outputs), size), axis=1).numpy().astype(np.int64)


def class_stats(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall and IoU of a (ground truth x prediction) confusion matrix; -1 if absent."""
    tp = np.diag(matrix).astype(np.float64)
    truth, predicted = matrix.sum(axis=1).astype(np.float64), matrix.sum(axis=0).astype(np.float64)
    union = truth + predicted - tp
    present = union > 0
    absent = np.where(present, 0.0, -1.0)  # an undefined ratio: 0 for a present class, -1 for an absent one

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.where(den > 0, num / np.maximum(den, 1), absent)

    return {"precision": ratio(tp, predicted), "recall": ratio(tp, truth), "iou": ratio(tp, union),
            "present": present, "has_truth": truth > 0}


class ConfusionMetric:
    """A num_classes x num_classes confusion matrix (rows: ground truth, columns: prediction)."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, outputs: Any, labels: Any) -> None:
        """Add one batch: the argmax of the main logits against the labels (255 ignored)."""
        truth = _to_numpy(labels).astype(np.int64)
        truth = truth.reshape((-1,) + truth.shape[-2:])
        pred = _argmax(outputs, truth.shape[-2:]).reshape(truth.shape)
        n = self.num_classes
        valid = (truth >= 0) & (truth < n)
        self.matrix += np.bincount(n * truth[valid] + pred[valid], minlength=n * n).reshape(n, n)

    def _means(self) -> tuple[float, float, float]:
        """(mean IoU over present classes, pixel accuracy, mean recall over classes with ground truth)."""
        stats = class_stats(self.matrix)
        miou = float(stats["iou"][stats["present"]].mean()) if stats["present"].any() else 0.0
        macc = float(stats["recall"][stats["has_truth"]].mean()) if stats["has_truth"].any() else 0.0
        acc = float(np.trace(self.matrix) / max(self.matrix.sum(), 1))
        return miou, acc, macc

    def summary(self) -> dict[str, float]:
        """{"miou", "acc", "macc"}: mIoU first, the number training maximises."""
        miou, acc, macc = self._means()
        return {"miou": miou, "acc": acc, "macc": macc}

    def report(self, labels: Sequence[str], **options: Any) -> dict[str, Any]:
        """The original's segmentation report: confusion matrix, mean IoU/accuracy, per-class P/R/IoU."""
        stats = class_stats(self.matrix)
        miou, _, macc = self._means()
        per_class = {
            str(label): {key: float(stats[key][i]) for key in ("precision", "recall", "iou")}
            for i, label in enumerate(list(labels)[: self.num_classes])
        }
        return {"Confusion_Matrix": self.matrix.tolist(), "Mean_IoU": miou, "Mean_Acc": macc,
                "PRIoU": per_class, "label_list": list(labels)}


def stretch(raster: np.ndarray, bands: Any) -> np.ndarray:
    """Three bands of a H x W x B raster (indices clipped to the band count), min-max stretched to uint8 BGR."""
    if isinstance(bands, str):
        bands = [b for b in bands.strip("[]() ").split(",") if b.strip()]
    try:
        picked = [min(max(int(b), 0), raster.shape[2] - 1) for b in list(bands)[:3]] or [0]
    except (TypeError, ValueError):
        raise EngineError(f"bands={bands!r} must be a list of band indices") from None
    chosen = [raster[:, :, b].astype(np.float64) for b in picked + [picked[-1]] * (3 - len(picked))]
    scaled = [(c - c.min()) / (np.ptp(c) or 1.0) * 255.0 for c in chosen]
    return np.ascontiguousarray(np.stack(scaled[::-1], axis=2).round().astype(np.uint8))


def draw_legend(img: np.ndarray, classes: Sequence[int], names: Sequence[str]) -> None:
    """A small colour key of `classes` in the top-left corner, drawn in place."""
    scale = max(0.3, min(img.shape[:2]) / 800.0)
    row = max(int(22 * scale), 8)
    for i, cls in enumerate(classes):
        y = 2 + i * row
        colour = tuple(int(c) for c in PALETTE[cls % 256])
        cv2.rectangle(img, (2, y), (2 + row - 2, y + row - 2), colour, -1)
        for thickness, text_colour in ((2, (0, 0, 0)), (1, (255, 255, 255))):
            cv2.putText(img, str(names[cls]), (row + 4, y + row - 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        text_colour, thickness, cv2.LINE_AA)


def overlay(base: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`base` (BGR) blended 50/50 with the palette colours of `mask`; class 0 left as it is."""
    blended = cv2.addWeighted(base, 0.5, PALETTE[mask], 0.5, 0)
    keep = mask == 0
    blended[keep] = base[keep]
    return blended


class SegmentationKind(Stacked):
    """A semantic segmentation project type; `remote` reads multi-band rasters instead of RGB images."""

    models: tuple[str, ...] = seg_models.MODELS

    def __init__(self, name: str, remote: bool) -> None:
        self.name = name
        self.remote = remote
        self._read: Callable[[str], np.ndarray] = augment.read_raster if remote else augment.read_rgb

    def read_image(self, path: str, data: DataSpec) -> np.ndarray:
        """The image at `path` (H x W x bands), checked against the dataset's band count."""
        img = self._read(path)
        if img.shape[2] != data.bands:
            raise EngineError(f"{os.path.basename(path)} has {img.shape[2]} bands; the dataset has {data.bands}")
        return img

    def build_model(self, model: str, num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
        """A paddleseg network for `model`, from scratch, for `in_channels` bands."""
        return seg_models.build(model, num_classes, in_channels, params)

    def sample(self, data: DataSpec, image: str, train: bool, rng: np.random.Generator,
               params: dict[str, Any], epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(C x H x W float32 image, H x W int64 label) of one image, augmented when `train`."""
        img = self.read_image(os.path.join(data.root, image), data)
        label = read_label(os.path.join(data.root, data.file_info[image]))
        label = np.where(label < data.num_classes, label, IGNORE).astype(np.uint8)
        size = augment.image_shape(params, DEFAULT_SHAPE)
        img, label = augment.resize(img, size), augment.resize(label, size, nearest=True)
        if train:
            img = augment.blur(img, params, rng)
            if augment.flag(params, "scale_aspect", False):
                img, label = scale_aspect(img, label, params, rng)
            img = augment.distort(img, params, rng)
            img, label = augment.flips([img, label], params, rng, vertical_default=False)
        return augment.normalize(img, params), label.astype(np.int64)

    def loss(self, outputs: Any, labels: Any, params: dict[str, Any]) -> Any:
        """Cross-entropy (ignore 255) on the main logits plus 0.4 x each auxiliary, plus Dice/BCE if asked."""
        import paddle.nn.functional as F

        logits = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        labels = _label_tensor(labels)
        size = labels.shape[-2:]
        main = _fit(logits[0], size)
        total = F.cross_entropy(main, labels, axis=1, ignore_index=IGNORE).mean()
        for aux in logits[1:]:
            total = total + AUX_WEIGHT * F.cross_entropy(_fit(aux, size), labels, axis=1, ignore_index=IGNORE).mean()
        use_dice, use_bce = loss_switches(params)
        if use_dice:
            total = total + dice_loss(main, labels)
        if use_bce:
            total = total + bce_loss(main, labels)
        return total

    def new_metric(self, num_classes: int) -> ConfusionMetric:
        """An empty confusion-matrix accumulator."""
        return ConfusionMetric(num_classes)

    def predict(self, model: Any, path: str, data: DataSpec, params: dict[str, Any],
                options: dict[str, Any]) -> Prediction:
        """The class mask of the image at `path`, its per-class pixel counts, and the blended picture."""
        import paddle

        original = self.read_image(path, data)
        height, width = original.shape[:2]
        x = augment.normalize(augment.resize(original, augment.image_shape(params, DEFAULT_SHAPE)), params)
        with paddle.no_grad():
            outputs = model(paddle.to_tensor(x[None]))
        pred = _argmax(outputs, x.shape[1:])[0].astype(np.uint8)
        mask = augment.resize(pred, (width, height), nearest=True)
        counts = np.bincount(mask.ravel(), minlength=len(data.labels))
        present = [int(c) for c in np.flatnonzero(counts) if c < len(data.labels)]
        names = list(data.labels)
        result = {"label_map_classes": sorted(names[c] for c in present),
                  "class_pixels": {names[c]: int(counts[c]) for c in present}}
        base = stretch(original, options.get("bands") or (0, 1, 2)) if self.remote \
            else cv2.cvtColor(original, cv2.COLOR_RGB2BGR)
        visual = overlay(base, mask)
        draw_legend(visual, present, names)
        return Prediction(result, visual, {"mask": mask})


KIND = SegmentationKind("segmentation", remote=False)
REMOTE_KIND = SegmentationKind("remote_segmentation", remote=True)
