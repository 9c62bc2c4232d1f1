"""Detection and instance-segmentation evaluation: VOC mAP, per-class precision/recall/AP, confusion matrix.

Pure numpy. Predictions per image: `{"bbox": [N, 6] (class, score, x1, y1, x2, y2)}`, plus
`"mask": [N, H, W]` (0/1) for instance segmentation; ground truth per image: `{"gt_bbox": [n, 4],
"gt_class": [n]}`, optional `"difficult": [n]` (ignored: neither a hit nor a miss, as in VOC) and
`"gt_mask": [n, H, W]`. Overlap is box IoU, or mask IoU with `by="mask"`.

* AP per class is VOC 2007's 11-point interpolated AP (`eleven_point=False`: the area under the
  precision envelope, VOC 2010+) at IoU >= `overlap_thresh`; mAP is the mean over classes that
  have ground truth.
* `PRAP` gives each class's precision and recall counting predictions with score >=
  `score_thresh`, and its AP; `Confusion_Matrix` is (classes + background) square, rows the
  truth, columns the prediction, from predictions with score >= `score_thresh`: each ground-truth
  object takes the best-overlapping unused prediction of any class; unmatched objects count as
  predicted background, unmatched predictions as background predicted as their class.
Defaults when the client sends null: overlap 0.5, score 0.3 (what the original used then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

DEFAULT_OVERLAP = 0.5
DEFAULT_SCORE = 0.3
BACKGROUND = "back_ground"


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes a [N, 4] and b [M, 4] (x1, y1, x2, y2, pixel corners)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of masks a [N, H, W] and b [M, H, W]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    fa, fb = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def average_precision(recall: np.ndarray, precision: np.ndarray, eleven_point: bool = True) -> float:
    """VOC AP from a precision/recall curve (detections sorted by falling score)."""
    if eleven_point:
        return float(np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0
                              for t in np.linspace(0, 1, 11)]))
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


@dataclass
class _Image:
    pred_class: np.ndarray
    score: np.ndarray
    overlaps: np.ndarray  # [predictions, objects]
    gt_class: np.ndarray
    difficult: np.ndarray


@dataclass
class DetectionMetric:
    """Accumulates predictions and ground truth of an evaluation pass."""

    num_classes: int
    by: str = "bbox"  # "bbox" | "mask"
    eleven_point: bool = True
    images: list[_Image] = field(default_factory=list)

    def update(self, outputs: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]]) -> None:
        """Add per-image predictions and their ground truth."""
        for out, gt in zip(outputs, targets):
            boxes = np.asarray(out.get("bbox", np.zeros((0, 6))), dtype=np.float64).reshape(-1, 6)
            # the network's boxes are in original pixels, like `orig_bbox`; gt_bbox is in the resized input
            gt_boxes = np.asarray(gt["orig_bbox"] if "orig_bbox" in gt else gt["gt_bbox"], dtype=np.float64).reshape(-1, 4)
            if self.by == "mask":
                masks = np.asarray(out.get("mask", np.zeros((0, 1, 1))))
                overlaps = np.zeros((len(boxes), len(gt_boxes)))
                if len(masks) == len(boxes) and masks.shape[1:] == np.asarray(gt["gt_mask"]).shape[1:]:
                    overlaps = mask_iou(masks, np.asarray(gt["gt_mask"]))
            else:
                overlaps = box_iou(boxes[:, 2:], gt_boxes)
            n = len(gt_boxes)
            self.images.append(_Image(boxes[:, 0].astype(int), boxes[:, 1], overlaps,
                                      np.asarray(gt["gt_class"], dtype=int).reshape(n),
                                      np.asarray(gt.get("difficult", np.zeros(n)), dtype=bool).reshape(n)))

    def _class_curve(self, c: int, overlap: float) -> tuple[np.ndarray, np.ndarray, int]:
        """(scores, hit flags) of class c's predictions by falling score, and its object count."""
        scores, hits, objects = [], [], 0
        for im in self.images:
            mine = np.where(im.gt_class == c)[0]
            objects += int((~im.difficult[mine]).sum())
            taken = np.zeros(len(mine), dtype=bool)
            for p in np.argsort(-im.score, kind="stable"):
                if im.pred_class[p] != c:
                    continue
                best, where = 0.0, -1
                for j, g in enumerate(mine):
                    if im.overlaps[p, g] >= overlap and im.overlaps[p, g] > best and not taken[j]:
                        best, where = im.overlaps[p, g], j
                if where >= 0 and im.difficult[mine[where]]:
                    continue  # a difficult object: the prediction neither hits nor misses
                if where >= 0:
                    taken[where] = True
                scores.append(im.score[p])
                hits.append(where >= 0)
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        return np.asarray(scores, dtype=np.float64)[order], np.asarray(hits, dtype=bool)[order], objects

    def per_class(self, overlap: float, score: float) -> list[dict[str, float]]:
        """Each class's AP, and precision and recall at `score`."""
        rows = []
        for c in range(self.num_classes):
            scores, hits, objects = self._class_curve(c, overlap)
            tp, fp = np.cumsum(hits), np.cumsum(~hits)
            recall = tp / objects if objects else np.zeros(len(tp))
            precision = tp / np.maximum(tp + fp, 1)
            ap = average_precision(recall, precision, self.eleven_point) if objects else -1.0
            kept = scores >= score
            n_tp = int(hits[kept].sum())
            rows.append({"precision": n_tp / int(kept.sum()) if kept.any() else (0.0 if objects else -1.0),
                         "recall": n_tp / objects if objects else -1.0, "AP": ap})
        return rows

    def mean_ap(self, overlap: float = DEFAULT_OVERLAP) -> float:
        """mAP over the classes with ground truth (0 when there is none)."""
        aps = [r["AP"] for r in self.per_class(overlap, 0.0) if r["AP"] >= 0]
        return float(np.mean(aps)) if aps else 0.0

    def confusion(self, overlap: float, score: float) -> np.ndarray:
        """The (classes + background) square confusion matrix."""
        bg = self.num_classes
        matrix = np.zeros((bg + 1, bg + 1), dtype=np.int64)
        for im in self.images:
            keep = np.where(im.score >= score)[0]
            used = np.zeros(len(keep), dtype=bool)
            for g in range(len(im.gt_class)):
                candidates = [(im.overlaps[p, g], k) for k, p in enumerate(keep) if not used[k]]
                best = max(candidates, default=(0.0, -1))
                if best[1] >= 0 and best[0] >= overlap:
                    used[best[1]] = True
                    matrix[im.gt_class[g], im.pred_class[keep[best[1]]]] += 1
                elif not im.difficult[g]:
                    matrix[im.gt_class[g], bg] += 1
            for k in np.where(~used)[0]:
                matrix[bg, im.pred_class[keep[k]]] += 1
        return matrix

    def summary(self) -> dict[str, float]:
        """{"bbox_map"} (or {"segm_map"}) at IoU 0.5, for evaluations during training."""
        return {"bbox_map" if self.by == "bbox" else "segm_map": self.mean_ap()}

    def report(self, labels: Sequence[str], score_thresh: float | None = None,
               overlap_thresh: float | None = None, **options: Any) -> dict[str, Any]:
        """The original's detection report: Confusion_Matrix, mAP, PRAP, label_list (+ back_ground)."""
        overlap = DEFAULT_OVERLAP if overlap_thresh is None else float(overlap_thresh)
        score = DEFAULT_SCORE if score_thresh is None else float(score_thresh)
        rows = self.per_class(overlap, score)
        aps = [r["AP"] for r in rows if r["AP"] >= 0]
        return {
            "Confusion_Matrix": self.confusion(overlap, score).tolist(),
            "mAP": float(np.mean(aps)) if aps else 0.0,
            "PRAP": {label: row for label, row in zip(labels, rows)},
            "label_list": [*labels, BACKGROUND],
            "ap_type": "VOC 11-point" if self.eleven_point else "VOC area", "overlap_thresh": overlap,
            "score_thresh": score,
        }


@dataclass
class InstanceMetric:
    """Instance segmentation: the detection report by box and by mask (the original's BBox_* and Mask_* keys)."""

    num_classes: int
    eleven_point: bool = True

    def __post_init__(self) -> None:
        self.boxes = DetectionMetric(self.num_classes, "bbox", self.eleven_point)
        self.masks = DetectionMetric(self.num_classes, "mask", self.eleven_point)

    def update(self, outputs: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]]) -> None:
        """Add per-image predictions and their ground truth to both."""
        self.boxes.update(outputs, targets)
        self.masks.update(outputs, targets)

    def summary(self) -> dict[str, float]:
        """{"segm_map", "bbox_map"} at IoU 0.5 (mask first: it decides the best model)."""
        return {**self.masks.summary(), **self.boxes.summary()}

    def report(self, labels: Sequence[str], **options: Any) -> dict[str, Any]:
        """BBox_Confusion_Matrix, BBox_mAP, BBox_PRAP, Mask_Confusion_Matrix, Mask_mAP, Mask_PRAP, label_list."""
        out: dict[str, Any] = {}
        for prefix, metric in (("BBox", self.boxes), ("Mask", self.masks)):
            part = metric.report(labels, **options)
            out.update({f"{prefix}_Confusion_Matrix": part["Confusion_Matrix"], f"{prefix}_mAP": part["mAP"],
                        f"{prefix}_PRAP": part["PRAP"]})
            out.update({k: part[k] for k in ("label_list", "ap_type", "overlap_thresh", "score_thresh")})
        return out
