"""The fine-tuning recipe follows the original's formulas (spec §6.2) without its crashes."""

from __future__ import annotations

import json

import pytest

from pdxsrv.domain.errors import InvalidArgument
from pdxsrv.domain.fine_tune import family_of, fine_tune_params as recommended_params
from pdxsrv.domain.params import DEFAULT_MODEL, MODELS

COMMON_KEYS = {
    "model", "cpu_num", "cuda_visible_devices", "batch_size", "learning_rate", "image_shape",
    "save_interval_epochs", "num_epochs", "lr_decay_epochs", "resume_checkpoint", "sensitivities_path",
    "image_mean", "image_std", "horizontal_flip", "horizontal_flip_prob", "brightness", "brightness_range",
    "brightness_prob", "contrast", "contrast_range", "contrast_prob", "saturation", "saturation_range",
    "saturation_prob", "hue", "hue_range", "hue_prob", "pretrain_weights",
}


def test_worked_example_of_the_spec() -> None:
    p = recommended_params("classification", None, [0], [8000], 840, 5)
    assert p["model"] == "MobileNetV2" and p["batch_size"] == 125
    assert p["learning_rate"] == pytest.approx(0.025)
    assert p["num_epochs"] == 10 and p["lr_decay_epochs"] == [4, 6, 8] and p["save_interval_epochs"] == 5
    assert p["cuda_visible_devices"] == "0" and p["cpu_num"] == 1 and p["image_shape"] == [224, 224]
    assert (p["brightness"], p["contrast"], p["saturation"], p["hue"]) == (True, True, False, False)
    assert p["brightness_range"] == 0.9 and p["image_mean"] == [0.485, 0.456, 0.406]
    assert p["pretrain_weights"] == "IMAGENET" and p["lr_policy"] == "Piecewise" and p["rotate_range"] == 30
    assert p["resume_checkpoint"] is None and p["sensitivities_path"] is None
    assert "warmup_steps" not in p and "num_classes" not in p


def test_cpu_uses_batch_size_4_and_no_visible_devices() -> None:
    p = recommended_params("classification", "ResNet50", [], [], 840, 5)
    assert p["batch_size"] == 4 and p["cuda_visible_devices"] == ""
    assert p["learning_rate"] == pytest.approx(4 / 256 * 0.1)


def test_yolov3_warmup_without_shift() -> None:
    # bs = min((8000-1555)//943 = 6, 8, 100//2) = 6; steps = 100//6 = 16; warmup = min(max(48, 150), 1200) = 150
    p = recommended_params("detection", None, [0], [8000], 100, 3)
    assert p["model"] == "YOLOv3" and p["batch_size"] == 6 and p["warmup_steps"] == 150
    assert p["learning_rate"] == pytest.approx(0.005 / 12 * 6 / 8)
    assert p["num_epochs"] == 270 and p["lr_decay_epochs"] == [216, 243] and p["image_shape"] == [608, 608]
    assert p["backbone"] == "DarkNet53" and p["use_mixup"] is True and p["with_fpn"] is True
    assert p["random_shape_sizes"] == [320, 352, 384, 416, 448, 480, 512, 544, 576, 608]
    assert (p["brightness"], p["hue"], p["brightness_range"]) == (True, True, 0.5)


def test_yolov3_warmup_longer_than_first_decay_shifts_the_schedule() -> None:
    # bs = min(6, 4//2) = 2; steps = 2; warmup = min(max(6, 500), 4000) = 500 >= 216*2 -> shift 500//2 = 250
    p = recommended_params("detection", "YOLOv3", [0], [8000], 4, 10)
    assert p["batch_size"] == 2 and p["warmup_steps"] == 500
    assert p["lr_decay_epochs"] == [466, 493] and p["num_epochs"] == 520


def test_faster_rcnn() -> None:
    # bs = min((8000-1755)//915 = 6, 2) = 2; steps = 50; warmup = min(max(50, 50), 4000) = 50
    p = recommended_params("detection", "FasterRCNN", [0], [8000], 100, 3)
    assert p["batch_size"] == 2 and p["learning_rate"] == pytest.approx(0.0025) and p["warmup_steps"] == 50
    assert p["image_shape"] == [800, 1333] and p["save_interval_epochs"] == 1
    assert p["num_epochs"] == 12 and p["lr_decay_epochs"] == [8, 11]
    assert p["backbone"] == "ResNet50" and p["with_fpn"] is True and p["pretrain_weights"] == "IMAGENET"
    assert not any(p[k] for k in ("brightness", "contrast", "saturation", "hue")) and "use_mixup" not in p


def test_segmentation_default_is_a_valid_deeplabv3p() -> None:
    for project_type in ("segmentation", "remote_segmentation"):
        p = recommended_params(project_type, None, [0], [8000], 100, 2)
        assert p["model"] == "DeepLabV3P" and p["backbone"] == "ResNet50_vd"
        assert p["pretrain_weights"] == "IMAGENET"
        assert p["batch_size"] == 4 and p["learning_rate"] == pytest.approx(0.02)  # (8000-1469)//1605 = 4
        assert p["image_mean"] == [0.5, 0.5, 0.5] and p["image_std"] == [0.5, 0.5, 0.5]
        assert p["lr_policy"] == "Polynomial" and p["optimizer"] == "SGD" and p["loss_type"] == [False, False]
        assert p["num_epochs"] == 100 and p["lr_decay_epochs"] == [10, 20] and p["image_shape"] == [512, 512]


def test_unknown_model_names_the_value_and_the_choices() -> None:
    with pytest.raises(InvalidArgument) as info:
        recommended_params("detection", "RetinaNet", [0], [8000], 100, 3)
    assert "'RetinaNet'" in info.value.message and "PPYOLOTiny" in info.value.message
    with pytest.raises(InvalidArgument):
        recommended_params("classification", "YOLOv3", [], [], 100, 3)  # a model of another project type


def test_two_gpus_scale_by_count_from_the_emptiest_card() -> None:
    # M = 4000: (4000-513)//57 = 61, times 2 GPUs = 122 (cap 250)
    p = recommended_params("classification", "MobileNetV2", [0, 1], [8000, 4000], 10000, 5)
    assert p["cuda_visible_devices"] == "0,1" and p["batch_size"] == 122
    assert p["learning_rate"] == pytest.approx(122 / 500 * 0.1)
    big = recommended_params("classification", "MobileNetV2", [2, 3], [80000, 80000], 10000, 5)
    assert big["batch_size"] == 250 and big["cuda_visible_devices"] == "2,3"


def test_tiny_datasets_and_small_gpus_still_give_batch_size_1() -> None:
    assert recommended_params("classification", None, [0], [8000], 1, 2)["batch_size"] == 1
    assert recommended_params("classification", None, [], [], 1, 2)["batch_size"] == 1
    assert recommended_params("instance_segmentation", None, [0], [1000], 500, 2)["batch_size"] == 1
    assert recommended_params("detection", "PPYOLO", [0], [8000], 0, 2)["batch_size"] == 1


def test_longest_prefix_wins() -> None:
    assert family_of("PPYOLOTiny").num_epochs == 550 and family_of("PPYOLOv2").num_epochs == 170
    assert family_of("PPYOLO").num_epochs == 200 and family_of("PicoDet").image_shape == (320, 320)


@pytest.mark.parametrize("project_type", sorted(MODELS))
def test_every_offered_model_gives_params_on_gpu_and_cpu(project_type: str) -> None:
    assert DEFAULT_MODEL[project_type] in MODELS[project_type]
    for model in MODELS[project_type]:
        for gpus, free in (([0], [11000]), ([], [])):
            p = recommended_params(project_type, model, gpus, free, 200, 4)
            assert COMMON_KEYS <= p.keys() and "num_classes" not in p, model
            assert p["model"] == model and isinstance(p["batch_size"], int) and 1 <= p["batch_size"] <= 100
            assert json.loads(json.dumps(p)) == p


def test_cpu_batch_size_follows_the_cores_and_the_free_memory() -> None:
    many = recommended_params("classification", "MobileNetV2", [], [], 10000, 5, cpu=(8, 64000))
    assert many["batch_size"] == 16 and many["cuda_visible_devices"] == ""
    assert recommended_params("classification", "MobileNetV2", [], [], 10000, 5, cpu=(2, 1000))["batch_size"] == 1
    unet = recommended_params("segmentation", "UNet", [], [], 10000, 3, cpu=(32, 64000))
    assert unet["batch_size"] == 4  # the family's cap
