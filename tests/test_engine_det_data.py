"""Detection samples: objects from VOC and COCO files, and augmentations that keep boxes on their objects."""

from __future__ import annotations

import numpy as np
import pytest

from pdxsrv.datasets import readers, synthetic
from pdxsrv.engine import augment
from pdxsrv.engine.base import DataSpec
from pdxsrv.engine.det_data import Annotations, Obj, eval_sample, mixup, mixup_until, train_sample
from pdxsrv.engine.detection import KIND

PARAMS = {"image_shape": [96, 96], "image_mean": [0.5] * 3, "image_std": [0.5] * 3, "expand_prob": 1.0,
          "horizontal_flip_prob": 0.5, "brightness": True, "hue": True}


def spec(tmp_path, kind: str, fmt: str | None) -> DataSpec:
    root = str(tmp_path / f"{kind}-{fmt}")
    synthetic.make(kind, root, fmt=fmt, images=6, size=64)
    found = readers.READERS[kind](root, None).details()
    images = sorted(found["file_info"])
    return DataSpec(root, found["labels"], found["file_info"], {"train": images, "val": images, "test": []})


@pytest.mark.parametrize("kind,fmt", [("detection", "voc"), ("detection", "coco"), ("instance_segmentation", None)])
def test_objects_are_read_from_voc_and_coco(tmp_path, kind: str, fmt: str | None) -> None:
    data = spec(tmp_path, kind, fmt)
    notes = Annotations(data)
    counts = [len(notes.objects(image)) for image in data.parts["train"]]
    assert sum(counts) > 0
    objs = [o for image in data.parts["train"] for o in notes.objects(image)]
    assert all(0 <= o.label < len(data.labels) and o.box[2] > o.box[0] and o.box[3] > o.box[1] for o in objs)
    if kind == "instance_segmentation":
        assert all(isinstance(o.segmentation, list) and o.segmentation for o in objs)


def test_augmented_boxes_still_frame_their_objects() -> None:
    img = np.zeros((80, 120, 3), dtype=np.uint8)
    objects = [Obj(0, (10, 10, 40, 30)), Obj(1, (60, 40, 110, 75))]
    for x1, y1, x2, y2 in ((10, 10, 40, 30), (60, 40, 110, 75)):
        img[y1:y2, x1:x2] = 255
    params = {**PARAMS, "image_mean": [0.0] * 3, "image_std": [1.0] * 3, "brightness": False, "hue": False,
              "contrast": False, "saturation": False}
    for seed in range(30):
        x, target = train_sample(img, objects, params, np.random.default_rng(seed))
        assert x.shape == (3, 96, 96) and len(target["gt_bbox"]) == len(target["gt_class"]) >= 1
        for box in target["gt_bbox"]:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 96
            inner = x[:, y1 + 1:y2 - 1, x1 + 1:x2 - 1]
            assert inner.size == 0 or inner.mean() > 0.9, f"seed {seed}: box {box} is not on its object"


def test_eval_sample_keeps_the_original_boxes_and_scale(tmp_path) -> None:
    data = spec(tmp_path, "detection", "voc")
    notes = Annotations(data)
    image = data.parts["train"][0]
    img = augment.read_rgb(f"{data.root}/{image}")
    x, target = eval_sample(img, notes.objects(image), PARAMS)
    assert x.shape == (3, 96, 96)
    assert target["scale_factor"].tolist() == pytest.approx([96 / img.shape[0], 96 / img.shape[1]])
    assert np.allclose(target["gt_bbox"][:, 0] / target["scale_factor"][1], target["orig_bbox"][:, 0])


def test_mixup_blends_two_images_and_weights_their_objects() -> None:
    first = np.full((40, 60, 3), 200, np.uint8)
    second = np.full((50, 30, 3), 100, np.uint8)
    mixed, objects, scores = mixup(first, [Obj(0, (1, 1, 20, 20))], second, [Obj(1, (2, 2, 10, 40))], 0.25)
    assert mixed.shape == (50, 60, 3)
    assert mixed[0, 0, 0] == 125 and mixed[45, 10, 0] == 75 and mixed[0, 50, 0] == 50
    assert [o.label for o in objects] == [0, 1] and scores.tolist() == [0.25, 0.75]
    assert mixup(first, [], second, [Obj(1, (2, 2, 10, 40))], 0.0)[0] is second
    x, target = train_sample(mixed, objects, {**PARAMS, "crop_image": False}, np.random.default_rng(0), scores)
    assert sorted(target["gt_score"].tolist()) == [0.25, 0.75]


def test_mixup_runs_until_its_epoch_and_only_for_yolo_models(tmp_path) -> None:
    data = spec(tmp_path, "detection", "voc")
    notes = Annotations(data)
    params = {**PARAMS, "use_mixup": True, "num_epochs": 27, "crop_image": False, "expand_image": False}
    assert mixup_until(params) == 25 and mixup_until({**params, "mixup_epoch": 3}) == 3
    assert mixup_until({**params, "use_mixup": False}) == 0
    image = data.parts["train"][0]

    def scores(model: str, epoch: int) -> list[float]:
        return sorted(set().union(*(KIND.sample(data, image, True, np.random.default_rng(seed), {**params, "model": model},
                                                epoch)[1]["gt_score"].tolist() for seed in range(8))))

    assert any(0 < s < 1 for s in scores("YOLOv3", 0)), "mixup never happened before its last epoch"
    assert scores("YOLOv3", 25) == [1.0]
    assert scores("FasterRCNN", 0) == [1.0]
    own = len(notes.objects(image))
    sample_sizes = {len(KIND.sample(data, image, True, np.random.default_rng(s), {**params, "model": "YOLOv3"}, 0)[1]["gt_class"])
                    for s in range(8)}
    assert max(sample_sizes) > own
