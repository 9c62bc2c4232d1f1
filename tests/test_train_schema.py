"""The training-parameter schema: what it accepts, coerces, refuses, completes and documents (pure)."""

from __future__ import annotations

import json
import os
import re

import pytest

from pdxsrv.domain import train_schema as ts
from pdxsrv.domain.errors import InvalidArgument
from pdxsrv.domain.fine_tune import fine_tune_params
from pdxsrv.domain.params import BACKBONES, MODELS
from pdxsrv.domain.recipes import Facts, recommend
from pdxsrv.domain.train_keys import DEEPLAB_BACKBONES, KEYS, TYPES, YOLO_FAMILY

ENGINE = os.path.join(os.path.dirname(__file__), "..", "pdxsrv", "engine")
READ = re.compile(r'(?:params\.get\(|number\(params, |flag\(params, |probability\(params, )"(\w+)"')


def refused(project_type: str, params: dict) -> str:
    with pytest.raises(InvalidArgument) as info:
        ts.check(project_type, params)
    return info.value.message


@pytest.mark.parametrize("project_type", TYPES)
def test_every_recommendation_validates_and_checking_is_idempotent(project_type: str) -> None:
    for model in MODELS[project_type]:
        for gpus, free, weights in (([0], [11000], True), ([0, 1], [30000, 30000], False), ([], [], True),
                                    ([], [], False)):
            p = recommend(project_type, model, Facts(gpus, free, (2, 8000), 200, 50, 4, 64.0), lambda _: weights)
            p = p["train"]
            checked = ts.check(project_type, p)
            assert checked == p and ts.check(project_type, checked) == checked, model
            assert ts.check(project_type, ts.effective(project_type, checked)), model


@pytest.mark.parametrize("project_type", TYPES)
def test_the_effective_parameters_of_an_empty_task_are_the_fallbacks_and_validate(project_type: str) -> None:
    shown = ts.effective(project_type, {})
    assert ts.check(project_type, shown) == shown
    assert not {k for k, key in KEYS[project_type].items() if key.ignored} & shown.keys()
    assert shown["num_epochs"] == 4 and shown["batch_size"] == 2 and shown["pretrain_weights"] is None
    yolo = ts.effective("detection", {"model": "YOLOv3", "backbone": ""})
    assert yolo["backbone"] == BACKBONES["YOLOv3"][0] and yolo["use_mixup"] is False  # the engine's defaults
    assert "use_mixup" not in ts.effective("detection", {"model": "FasterRCNN"})
    assert ts.effective("segmentation", {"model": "DeepLabV3P"})["backbone"] == "ResNet50_vd"
    assert "backbone" not in ts.effective("segmentation", {"model": "UNet"})
    assert ts.effective("segmentation", {"num_epochs": 9, "epochs": 1})["epochs"] == 1  # stored values as they are


def test_the_engine_reads_no_key_the_schema_lacks() -> None:
    read = set()
    for name in os.listdir(ENGINE):
        if name.endswith(".py"):
            with open(os.path.join(ENGINE, name)) as f:
                read |= set(READ.findall(f.read()))
    known = {k for table in KEYS.values() for k, key in table.items() if not key.ignored}
    assert read and read - known == set()


def test_the_tables_agree_with_the_engine() -> None:
    from pdxsrv.engine import det_models, seg_models

    assert DEEPLAB_BACKBONES == seg_models.DEEPLAB_BACKBONES and YOLO_FAMILY == det_models.YOLO_FAMILY


def test_strings_are_coerced_to_the_declared_kind_and_stored_so() -> None:
    got = ts.check("segmentation", {
        "num_epochs": "12", "batch_size": 4.0, "learning_rate": "0.005", "brightness": "true", "blur": "off",
        "hue_range": "18", "hue_prob": 1, "image_shape": "[64, 64]", "image_mean": "0.5, 0.5,0.5",
        "loss_type": "[true, false]", "model": "U-Net", "backbone": "NA", "pretrain_weights": "imagenet",
        "cuda_visible_devices": "0, 1", "lr_policy": "cosine", "optimizer": "adamw", "seed": "7",
    })
    assert got == {"num_epochs": 12, "batch_size": 4, "learning_rate": 0.005, "brightness": True, "blur": False,
                   "hue_range": 18.0, "hue_prob": 1, "image_shape": [64, 64], "image_mean": [0.5, 0.5, 0.5],
                   "loss_type": [True, False], "model": "UNet", "backbone": "", "pretrain_weights": "IMAGENET",
                   "cuda_visible_devices": "0,1", "lr_policy": "Cosine", "optimizer": "AdamW", "seed": 7}
    assert ts.check("classification", {"image_shape": 96, "cuda_visible_devices": [0, 2]}) == {
        "image_shape": [96, 96], "cuda_visible_devices": "0,2"}
    assert ts.check("detection", {"model": "fasterrcnn", "backbone": "resnet18", "pretrain_weights": "PM0003"}) == {
        "model": "FasterRCNN", "backbone": "ResNet18", "pretrain_weights": "PM0003"}
    for nothing in (None, False, "", "none", "None"):
        assert ts.check("classification", {"pretrain_weights": nothing}) == {"pretrain_weights": None}
    assert ts.check("detection", {"mixup_epoch": None, "cuda_visible_devices": None}) == {
        "mixup_epoch": None, "cuda_visible_devices": ""}


def test_ignored_keys_take_anything_and_are_stored_as_sent() -> None:
    sent = {"use_gpu": True, "cpu_num": 1, "train_num": "x", "rotate": True, "rotate_prob": "undefined",
            "rotate_range": "undefined", "resume_checkpoint": None, "sensitivities_path": None, "pruned_flops": None,
            "eval_metric_loss": 0.05, "vertical_flip": True, "vertical_flip_prob": "undefined", "with_fpn": True,
            "random_shape": True, "random_shape_sizes": [320, 352]}
    assert ts.check("detection", sent) == sent
    assert ts.check("classification", {"backbone": "NA"}) == {"backbone": "NA"}
    assert ts.check("segmentation", {"max_rotation": 15}) == {"max_rotation": 15}


def test_unknown_keys_get_a_suggestion_or_their_owner() -> None:
    assert refused("classification", {"epochs": 2}) == "unknown training parameter 'epochs'; did you mean 'num_epochs'?"
    assert "did you mean 'learning_rate'" in refused("detection", {"learning_rte": 0.1})
    assert "TrainParams.classification" in refused("classification", {"zzz": 1})
    assert refused("classification", {"loss_type": [True, False]}) == (
        "training parameter 'loss_type' is for segmentation and remote_segmentation projects, not classification")
    assert "is for detection and instance_segmentation projects" in refused("segmentation", {"use_mixup": True})


@pytest.mark.parametrize("params, words", [
    ({"num_epochs": "two"}, ["'num_epochs'", "an integer", "'two'"]),
    ({"num_epochs": 2.5}, ["'num_epochs'", "whole number", "2.5"]),
    ({"brightness": "maybe"}, ["'brightness'", "true or false", "'maybe'"]),
    ({"batch_size": True}, ["'batch_size'", "an integer", "true"]),
    ({"batch_size": None}, ["'batch_size'", "from 1 to 65536", "null"]),
    ({"image_mean": "a,b"}, ["'image_mean'", "a number", "'a,b'"]),
    ({"cuda_visible_devices": "gpu0"}, ["'cuda_visible_devices'", '"0,1"', "'gpu0'"]),
    ({"pretrain_weights": 3}, ["'pretrain_weights'", "IMAGENET", "3"]),
    ({"num_epochs": 0}, ["'num_epochs'", "from 1 to 100000", "got 0"]),
    ({"learning_rate": 0}, ["'learning_rate'", "greater than 0 and less than 10", "got 0"]),
    ({"horizontal_flip_prob": 1.5}, ["'horizontal_flip_prob'", "from 0 to 1", "1.5"]),
    ({"image_shape": [64, 64, 3]}, ["'image_shape'", "1 to 2 items", "[64, 64, 3]"]),
    ({"image_shape": [4, 64]}, ["'image_shape'", "each from 8 to 8192"]),
    ({"image_std": [0.2, 0, 0.2]}, ["'image_std'", "greater than 0"]),
    ({"seed": -1}, ["'seed'", "from 0 to 4294967295"]),
    ({"lr_policy": "Step"}, ["'lr_policy'", "Piecewise, Cosine, Polynomial, Linear", "'Step'"]),
    ({"optimizer": "RMSProp"}, ["'optimizer'", "SGD, Momentum, Adam, AdamW", "'RMSProp'"]),
    ({"model": "YOLOv3"}, ["model 'YOLOv3' cannot be trained in a classification project", "MobileNetV2"]),
])
def test_refusals_name_the_key_the_value_and_what_is_allowed(params: dict, words: list[str]) -> None:
    message = refused("classification", params)
    assert all(w in message for w in words), message


def test_backbones_must_fit_the_model() -> None:
    assert "supported backbones: MobileNetV1, MobileNetV3, DarkNet53, ResNet34" in refused(
        "detection", {"model": "YOLOv3", "backbone": "ResNet50_vd_dcn"})
    assert "supported backbones: ResNet50, ResNet34, ResNet18" in refused("detection", {"backbone": "DarkNet53",
                                                                                       "model": "FasterRCNN"})
    assert "DarkNet53" in refused("detection", {"backbone": "ResNet18"})  # no model: the default, YOLOv3
    assert "UNet takes no backbone" in refused("segmentation", {"model": "UNet", "backbone": "ResNet50_vd"})
    assert refused("segmentation", {"model": "DeepLabV3P", "backbone": "Xception65"}).endswith(
        "supported backbones: ResNet50_vd, ResNet101_vd")
    assert ts.check("segmentation", {"model": "DeepLabV3P", "backbone": "resnet101_vd"})["backbone"] == "ResNet101_vd"
    with pytest.raises(InvalidArgument, match="train must be a JSON object"):
        ts.check("classification", ["num_epochs", 2])  # type: ignore[arg-type]


def test_complete_takes_the_recommended_values_under_the_given_ones() -> None:
    recommended = fine_tune_params("detection", "YOLOv3", [], [], 200, 3)
    done = ts.complete("detection", {"num_epochs": "3", "image_shape": [160, 160]}, recommended)
    assert done == {**recommended, "num_epochs": 3, "image_shape": [160, 160]}
    other = ts.complete("detection", {"model": "FasterRCNN"}, recommended)
    assert other["model"] == "FasterRCNN" and "backbone" not in other  # YOLOv3's DarkNet53 would not fit
    assert other["learning_rate"] == recommended["learning_rate"]  # the recommended values stay the base
    chosen = ts.complete("detection", {"model": "FasterRCNN", "backbone": "ResNet18"}, recommended)
    assert chosen["backbone"] == "ResNet18"
    assert ts.complete("detection", {"model": "YOLOv3"}, recommended)["backbone"] == recommended["backbone"]
    with pytest.raises(InvalidArgument, match="did you mean 'num_epochs'"):
        ts.complete("detection", {"epochs": 3}, recommended)
    assert ts.complete("classification", {"num_epochs": 2}, {}) == {"num_epochs": 2}


def test_merge_checks_the_whole_and_drops_what_the_schema_never_knew() -> None:
    stored = {"model": "DeepLabV3P", "backbone": "ResNet50_vd", "num_epochs": 5, "epochs": 3}
    assert ts.merge("segmentation", stored, {"num_epochs": "6"}) == {"model": "DeepLabV3P", "backbone": "ResNet50_vd",
                                                                     "num_epochs": 6}
    assert ts.merge("segmentation", stored, {"model": "UNet"}) == {"model": "UNet", "num_epochs": 5}
    with pytest.raises(InvalidArgument, match="'num_epochs' must be an integer"):
        ts.merge("segmentation", stored, {"num_epochs": "six"})
    with pytest.raises(InvalidArgument, match="'num_epochs' must be an integer"):
        ts.merge("segmentation", {"num_epochs": "six"}, {"model": "UNet"})  # a bad stored value is named too


def test_a_stored_task_is_trainable_when_the_keys_the_schema_knows_are_valid() -> None:
    assert ts.trainable("classification", {"model": "MobileNetV2", "epochs": 3, "num_epochs": "2"}) == {
        "model": "MobileNetV2", "num_epochs": 2}
    with pytest.raises(InvalidArgument, match="'num_epochs' must be an integer, got 'two'"):
        ts.trainable("classification", {"num_epochs": "two"})


@pytest.mark.parametrize("project_type", TYPES)
def test_the_json_schema_documents_every_key(project_type: str) -> None:
    schema = ts.json_schema(project_type)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(KEYS[project_type])
    for name, prop in schema["properties"].items():
        key = KEYS[project_type][name]
        assert prop["description"], name
        if key.ignored:
            assert prop["deprecated"] is True and key.ignored in prop["description"]
        else:
            assert "type" in prop and "default" in prop, name
    props = schema["properties"]
    assert props["num_epochs"]["minimum"] == 1 and props["num_epochs"]["type"] == "integer"
    assert props["learning_rate"]["exclusiveMinimum"] == 0 and props["lr_policy"]["enum"][0] == "Piecewise"
    assert props["image_shape"]["items"] == {"type": "integer", "minimum": 8, "maximum": 8192}
    assert props["pretrain_weights"]["type"] == ["string", "null"]
    json.dumps(schema)  # plain JSON
    rules = schema.get("allOf", [])
    assert bool(rules) == (project_type != "classification")
