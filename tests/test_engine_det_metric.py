"""Detection evaluation numbers against hand-computed cases (VOC AP, PRAP, confusion matrix, masks)."""

from __future__ import annotations

import numpy as np
import pytest

from pdxsrv.engine.det_data import Obj, eval_sample
from pdxsrv.engine.det_metric import BACKGROUND, DetectionMetric, average_precision, box_iou


def pred(*rows: tuple) -> dict:
    return {"bbox": np.array(rows, dtype=np.float64).reshape(-1, 6)}


def truth(boxes: list, classes: list, difficult: list | None = None) -> dict:
    out = {"gt_bbox": np.array(boxes, dtype=np.float64).reshape(-1, 4), "gt_class": np.array(classes)}
    if difficult is not None:
        out["difficult"] = np.array(difficult)
    return out


def test_box_iou() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    assert iou[0].tolist() == pytest.approx([1.0, 50 / 150, 0.0])


def test_perfect_predictions() -> None:
    m = DetectionMetric(2)
    m.update([pred((0, 0.9, 0, 0, 10, 10), (1, 0.8, 20, 20, 30, 30))], [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])])
    report = m.report(["cat", "dog"])
    assert report["mAP"] == 1.0 and m.summary() == {"bbox_map": 1.0}
    assert report["PRAP"]["dog"] == {"precision": 1.0, "recall": 1.0, "AP": 1.0}
    assert report["Confusion_Matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert report["label_list"] == ["cat", "dog", BACKGROUND]


def test_predictions_in_original_pixels_are_scored_against_the_original_boxes() -> None:
    """An evaluation sample is resized (gt_bbox scaled); the network answers in the original image's pixels."""
    img = np.zeros((100, 200, 3), np.uint8)
    x, target = eval_sample(img, [Obj(0, (20, 10, 60, 50)), Obj(1, (120, 40, 180, 90))], {"image_shape": [96, 96]})
    assert not np.allclose(target["gt_bbox"], target["orig_bbox"])
    m = DetectionMetric(2)
    m.update([pred((0, 0.9, 20, 10, 60, 50), (1, 0.8, 120, 40, 180, 90))], [target])
    assert m.summary() == {"bbox_map": 1.0}


def test_eleven_point_and_area_ap_of_a_hand_made_curve() -> None:
    # Two cats; predictions by score: hit, miss (IoU < 0.5), hit -> precision 1, 1/2, 2/3; recall 1/2, 1/2, 1.
    m = DetectionMetric(1)
    m.update([pred((0, 0.9, 0, 0, 10, 10), (0, 0.8, 40, 40, 50, 50), (0, 0.7, 20, 20, 30, 30))],
             [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])])
    assert m.mean_ap() == pytest.approx((6 * 1.0 + 5 * 2 / 3) / 11)
    area = DetectionMetric(1, eleven_point=False)
    area.images = m.images
    assert area.mean_ap() == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    row = m.report(["cat"], score_thresh=0.75)["PRAP"]["cat"]
    assert (row["precision"], row["recall"]) == (0.5, 0.5)  # only the two predictions scoring >= 0.75 count
    assert average_precision(np.array([]), np.array([])) == 0.0


def test_difficult_objects_are_neither_hits_nor_misses_and_absent_classes_are_minus_one() -> None:
    m = DetectionMetric(3)
    m.update([pred((0, 0.9, 0, 0, 10, 10), (0, 0.6, 20, 20, 30, 30))],
             [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0], difficult=[0, 1])])
    report = m.report(["a", "b", "c"])
    assert report["PRAP"]["a"]["AP"] == 1.0 and report["PRAP"]["a"]["recall"] == 1.0
    assert report["PRAP"]["b"] == {"precision": -1.0, "recall": -1.0, "AP": -1.0}
    assert report["mAP"] == 1.0  # the mean is over classes with ground truth


def test_confusion_matrix_counts_wrong_class_missed_and_spurious() -> None:
    m = DetectionMetric(2)
    m.update([pred((1, 0.9, 0, 0, 10, 10), (0, 0.8, 50, 50, 60, 60), (0, 0.1, 20, 20, 30, 30))],
             [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])])
    # cat predicted as dog; the dog missed (its only overlap scores below 0.3); a spurious cat.
    assert m.report(["cat", "dog"])["Confusion_Matrix"] == [[0, 1, 0], [0, 0, 1], [1, 0, 0]]


def test_mask_overlap() -> None:
    full, half = np.zeros((1, 8, 8)), np.zeros((1, 8, 8))
    full[0, :, :] = 1
    half[0, :, :4] = 1
    m = DetectionMetric(1, by="mask")
    m.update([{"bbox": np.array([[0, 0.9, 0, 0, 8, 8]]), "mask": half}],
             [{"gt_bbox": np.array([[0, 0, 8, 8]]), "gt_class": np.array([0]), "gt_mask": full}])
    assert m.mean_ap(overlap=0.5) == 1.0 and m.mean_ap(overlap=0.6) == 0.0
    assert m.summary() == {"segm_map": 1.0}


def test_instance_report_has_the_original_bbox_and_mask_keys() -> None:
    from pdxsrv.engine.det_metric import InstanceMetric

    full = np.ones((1, 8, 8))
    m = InstanceMetric(1)
    m.update([{"bbox": np.array([[0, 0.9, 0, 0, 8, 8]]), "mask": full}],
             [{"gt_bbox": np.array([[0, 0, 8, 8]]), "gt_class": np.array([0]), "gt_mask": full}])
    report = m.report(["a"])
    assert {"BBox_Confusion_Matrix", "BBox_mAP", "BBox_PRAP", "Mask_Confusion_Matrix", "Mask_mAP", "Mask_PRAP",
            "label_list"} <= set(report)
    assert report["BBox_mAP"] == report["Mask_mAP"] == 1.0 and list(m.summary()) == ["segm_map", "bbox_map"]
