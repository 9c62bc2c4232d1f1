"""PaddleX 3's inference.yml: written beside a mapped export, derived from deploy.yml, absent otherwise.

PaddleX itself is not imported (it needs numpy 2): `bench/paddlex3_check.py` loads these exports in
PaddleX 3 and compares its predictions with ours.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import yaml

paddle = pytest.importorskip("paddle")

from pdxsrv.engine import export, paddlex_yml  # noqa: E402
from pdxsrv.engine.detection import DEFAULT_SCORE  # noqa: E402
from pdxsrv.engine.inference import Trained  # noqa: E402
from pdxsrv.engine.kinds import kind_of  # noqa: E402
from pdxsrv.engine.loop import build  # noqa: E402
from pdxsrv.jobs.export import move_exported  # noqa: E402

LABELS = ["cat", "dog", "猫"]
MEAN, STD = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]


def trained(project_type: str, params: dict[str, Any], network: bool = False) -> Trained:
    """A Trained for `params` (a fresh network only when `network`: deploy configs read the meta alone)."""
    meta = {"project_type": project_type, "labels": LABELS, "in_channels": params.pop("bands", 3), "epoch": 1,
            "params": {"image_mean": MEAN, "image_std": STD, **params}}
    kind = kind_of(project_type)
    model = build(kind, Trained(kind, None, meta).data, meta["params"]) if network else None
    return Trained(kind, model, meta)


def yml_of(project_type: str, **params: Any) -> dict[str, Any] | None:
    """The inference.yml a deploy config of these parameters gives."""
    t = trained(project_type, params)
    return paddlex_yml.inference_yml(export.deploy_config(t, export.task_input_spec(t)))


def test_a_classification_export_writes_the_inference_yml_paddlex_reads(tmp_path: Any) -> None:
    t = trained("classification", {"model": "MobileNetV3_small", "image_shape": [40, 32]}, network=True)
    sample = (np.random.default_rng(0).normal(size=(3, 32, 40)).astype(np.float32), 0)
    config = export.export_trained(t, str(tmp_path), sample)
    with open(tmp_path / "inference.yml", encoding="utf-8") as f:
        document = yaml.safe_load(f)
    assert document == {
        "Global": {"model_name": "MobileNetV3_small_x1_0"},
        "PreProcess": {"transform_ops": [
            {"ResizeImage": {"resize_short": 36}}, {"CropImage": {"size": [40, 32]}},
            {"NormalizeImage": {"mean": MEAN, "std": STD, "scale": 1 / 255, "order": "", "channel_num": 3}},
            {"ToCHWImage": None}]},
        "PostProcess": {"Topk": {"topk": 3, "label_list": LABELS}}}
    # the same numbers as deploy.yml's, which our own predictor follows
    assert config["Transforms"][0] == {"ResizeByShort": {"short_size": 36}, "CenterCrop": {"size": [40, 32]}}


def test_segmentation_reads_the_label_map_our_program_ends_in(tmp_path: Any) -> None:
    assert yml_of("segmentation", model="PPLiteSeg", image_shape=[96, 64]) == {
        "Global": {"model_name": "PP-LiteSeg-T"},
        "Deploy": {"model": "inference.json", "params": "inference.pdiparams", "transforms": [
            {"type": "Resize", "target_size": [96, 64], "keep_ratio": False, "size_divisor": None, "interp": "LINEAR"},
            {"type": "Normalize", "mean": MEAN, "std": STD}]}}
    assert yml_of("segmentation", model="DeepLabV3P")["Global"]["model_name"] == "Deeplabv3_Plus-R50"
    assert yml_of("segmentation", model="DeepLabV3P", backbone="ResNet101_vd")["Global"]["model_name"] \
        == "Deeplabv3_Plus-R101"
    t = trained("segmentation", {"model": "PPLiteSeg"})
    config = export.deploy_config(t, export.task_input_spec(t))
    assert "label_map [batch, H, W] int32" in config["outputs"]  # what PaddleX's SegPostProcess takes
    assert paddlex_yml.write(str(tmp_path), config) == str(tmp_path / "inference.yml")


def test_detection_feeds_height_width_and_keeps_our_score_threshold() -> None:
    document = yml_of("detection", model="YOLOv3", backbone="MobileNetV3", image_shape=[320, 256])
    assert document == {
        "Global": {"model_name": "YOLOv3-MobileNetV3"},
        "Preprocess": [{"type": "Resize", "target_size": [256, 320], "keep_ratio": False, "interp": "LINEAR"},
                       {"type": "NormalizeImage", "mean": MEAN, "std": STD, "is_scale": True,
                        "norm_type": "mean_std"}, {"type": "Permute"}],
        "label_list": LABELS, "draw_threshold": DEFAULT_SCORE}
    assert yml_of("detection", model="PicoDet")["Global"]["model_name"] == "PicoDet-S"
    assert yml_of("detection", model="FasterRCNN", backbone="NA")["Global"]["model_name"] == "FasterRCNN-ResNet50-FPN"
    assert yml_of("instance_segmentation", model="MaskRCNN")["Global"]["model_name"] == "MaskRCNN-ResNet50-FPN"


@pytest.mark.parametrize("project_type,params", [
    ("classification", {"model": "ShuffleNetV2"}), ("classification", {"model": "DenseNet121"}),
    ("segmentation", {"model": "UNet"}), ("segmentation", {"model": "BiSeNetV2"}),
    ("remote_segmentation", {"model": "PPLiteSeg", "bands": 4}), ("remote_segmentation", {"model": "DeepLabV3P"}),
    ("detection", {"model": "YOLOv3"}), ("detection", {"model": "PPYOLOTiny"}),
    ("instance_segmentation", {"model": "MaskRCNN", "backbone": "ResNet18"}),
])
def test_models_paddlex_3_does_not_know_get_no_inference_yml(project_type: str, params: dict[str, Any]) -> None:
    assert yml_of(project_type, **params) is None


def test_an_export_replaces_the_files_of_an_earlier_one_and_leaves_others(tmp_path: Any) -> None:
    staging, save_dir = tmp_path / "staging", tmp_path / "out"
    staging.mkdir()
    save_dir.mkdir()
    paddle_files = ["inference.json", "inference.pdiparams", "deploy.yml", "inference.yml"]
    for name in paddle_files:
        (save_dir / name).write_text("earlier")
    (save_dir / "notes.txt").write_text("mine")
    for name in ("inference.onnx", "deploy.yml"):
        (staging / name).write_text("new")
    assert move_exported(str(staging), str(save_dir)) == ["inference.onnx", "deploy.yml"]
    assert sorted(os.listdir(save_dir)) == ["deploy.yml", "inference.onnx", "notes.txt"]
    for name in paddle_files:
        (staging / name).write_text("newer")
    assert move_exported(str(staging), str(save_dir)) == ["inference.json", "inference.pdiparams", "deploy.yml",
                                                          "inference.yml"]
    assert sorted(os.listdir(save_dir)) == sorted([*paddle_files, "notes.txt"]) and not os.listdir(staging)
    assert (save_dir / "inference.yml").read_text() == "newer"
