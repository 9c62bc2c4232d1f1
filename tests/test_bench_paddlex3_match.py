"""bench/paddlex3_check.py pairs boxes by class and IoU, so boxes of equal score may come in either order."""

from __future__ import annotations

import importlib.util
import os

import numpy as np

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "paddlex3_check.py")
spec = importlib.util.spec_from_file_location("paddlex3_check", PATH)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

OURS = np.array([[0, 0.9, 10, 10, 50, 50], [1, 0.1346, 5, 5, 20, 30], [2, 0.1346, 60, 60, 90, 95]], np.float64)


def _job(tmp_path, theirs: np.ndarray) -> tuple[dict, dict]:
    np.savez(tmp_path / "ours.npz", b0=OURS)
    np.savez(tmp_path / "theirs.npz", b0=theirs)
    return ({"kind": "detection", "ours": str(tmp_path / "ours.npz"), "threshold": 0.02},
            {"out": str(tmp_path / "theirs.npz")})


def test_tied_boxes_in_the_other_order_agree(tmp_path) -> None:
    theirs = OURS[[0, 2, 1]] + [0, 1e-7, 1e-5, 0, 0, 0]
    assert check.match_boxes(OURS, theirs)[0] == 3
    ok, figures = check.agreement(*_job(tmp_path, theirs))
    assert ok and "on 1/1 images" in figures, figures


def test_a_different_class_a_moved_box_or_a_missing_box_disagree(tmp_path) -> None:
    other_class = OURS.copy()
    other_class[1, 0] = 2
    moved = OURS.copy()
    moved[2, 2:] += 3
    for theirs in (other_class, moved, OURS[:2]):
        ok, figures = check.agreement(*_job(tmp_path, theirs))
        assert not ok and "on 0/1 images" in figures, figures
    assert check.match_boxes(OURS, np.zeros((0, 6)))[0] == 0
