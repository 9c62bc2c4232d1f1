"""PaddleX 3's `inference.yml`: what `paddlex.create_model(model_name, model_dir)` reads beside our program.

PaddleX 3 (checked with 3.7.2) picks its predictor class from `model_name`, which must be one of its
own model names and must equal `Global.model_name` in `<model_dir>/inference.yml`; the predictor
builds its pre- and post-processing from that file and runs `inference.json` + `inference.pdiparams`
(our program) as they are. Everything written here is derived from the export's deploy config
(`engine.export.deploy_config`): the same sizes, mean/std and labels as `deploy.yml`.

classification (PaddleX `ClasPredictor`; the program gives logits [N, classes])::

    Global: {model_name: ResNet18}
    PreProcess:
      transform_ops:                       # deploy.yml's ResizeByShort + CenterCrop + Normalize + Permute
      - ResizeImage: {resize_short: 36}
      - CropImage: {size: [32, 32]}        # [width, height]
      - NormalizeImage: {mean: [...], std: [...], scale: 0.00392156862745098, order: '', channel_num: 3}
      - ToCHWImage: null
    PostProcess:
      Topk: {topk: 5, label_list: [cat, dog, ...]}

  Topk ranks the program's output as it is: our classification programs end in softmax, as
  PaddleClas's do, so its `scores` are probabilities.

segmentation (PaddleX `SegPredictor`)::

    Global: {model_name: PP-LiteSeg-T}
    Deploy:
      model: inference.json
      params: inference.pdiparams
      transforms:
      - {type: Resize, target_size: [64, 64], keep_ratio: false, size_divisor: null, interp: LINEAR}
      - {type: Normalize, mean: [...], std: [...]}

  PaddleX's SegPostProcess (not configurable) takes a label map [N, H, W] from the program, as
  PaddleSeg's exports (argmax) give, and so do ours.

detection and instance segmentation (PaddleX `DetPredictor`, `InstanceSegPredictor`; the program takes
`image`, `im_shape` (not PicoDet), `scale_factor` and gives bbox [N, 6], bbox_num [batch] (Mask R-CNN
adds mask [N, H, W]), which is what PaddleX feeds and reads)::

    Global: {model_name: PicoDet-S}
    Preprocess:                            # target_size is [height, width] here
    - {type: Resize, target_size: [320, 320], keep_ratio: false, interp: LINEAR}
    - {type: NormalizeImage, mean: [...], std: [...], is_scale: true, norm_type: mean_std}
    - {type: Permute}
    label_list: [cat, dog, ...]
    draw_threshold: 0.5                    # our predictor's default score_thresh

When deploy.yml's `onednn.runs` is false (a program oneDNN cannot run; none of ours as of paddle
3.3.1, see `engine.onednn_ops`), the file also carries `pdxsrv_onednn` with the ops and what to do.

Not mapped (no inference.yml): models with no PaddleX 3 model of the same architecture
(ShuffleNetV2, DenseNet*, UNet, BiSeNetV2, FastSCNN, HRNet_W18 with an FCN head, YOLOv3 on
MobileNetV1 or ResNet34, PPYOLO, PPYOLOTiny, R-CNNs on ResNet18) and remote sensing (PaddleX reads
3-band pictures and normalises 3 bands only).
"""

from __future__ import annotations

import os
from typing import Any

from pdxsrv.domain.params import BACKBONES

FILE = "inference.yml"
# (project type, our model, backbone or None for any) -> the PaddleX 3 model of the same architecture.
NAMES: dict[tuple[str, str, str | None], str] = {
    ("classification", "MobileNetV1", None): "MobileNetV1_x1_0",
    ("classification", "MobileNetV2", None): "MobileNetV2_x1_0",
    ("classification", "MobileNetV3_small", None): "MobileNetV3_small_x1_0",
    ("classification", "MobileNetV3_small_ssld", None): "MobileNetV3_small_x1_0",
    ("classification", "MobileNetV3_large", None): "MobileNetV3_large_x1_0",
    ("classification", "MobileNetV3_large_ssld", None): "MobileNetV3_large_x1_0",
    ("classification", "ResNet18", None): "ResNet18",
    ("classification", "ResNet34", None): "ResNet34",
    ("classification", "ResNet50", None): "ResNet50",
    ("classification", "ResNet101", None): "ResNet101",
    ("classification", "ResNet152", None): "ResNet152",
    ("segmentation", "DeepLabV3P", "ResNet50_vd"): "Deeplabv3_Plus-R50",
    ("segmentation", "DeepLabV3P", "ResNet101_vd"): "Deeplabv3_Plus-R101",
    ("segmentation", "PPLiteSeg", None): "PP-LiteSeg-T",  # PP-LiteSeg-T is the STDC1 model, as ours
    ("detection", "YOLOv3", "MobileNetV3"): "YOLOv3-MobileNetV3",  # MobileNetV3-large x1.0, as ours
    ("detection", "YOLOv3", "DarkNet53"): "YOLOv3-DarkNet53",
    ("detection", "PicoDet", "LCNet"): "PicoDet-S",  # LCNet x0.75, as ours
    ("detection", "FasterRCNN", "ResNet50"): "FasterRCNN-ResNet50-FPN",
    ("detection", "FasterRCNN", "ResNet34"): "FasterRCNN-ResNet34-FPN",
    ("instance_segmentation", "MaskRCNN", "ResNet50"): "MaskRCNN-ResNet50-FPN",
}
# The backbone built when none is named: pdxsrv.engine.seg_models for DeepLabV3P, the first of BACKBONES otherwise.
DEFAULT_BACKBONES = {"DeepLabV3P": "ResNet50_vd", **{model: choices[0] for model, choices in BACKBONES.items()}}
# The families whose program PaddleX 3 runs as exported.
WRITTEN: tuple[str, ...] = ("classification", "segmentation", "detection", "instance_segmentation")
TOPK = 5
DRAW_THRESHOLD = 0.5  # pdxsrv.engine.detection.DEFAULT_SCORE


def model_name(config: dict[str, Any]) -> str | None:
    """The PaddleX 3 model name for a deploy config's project type, model and backbone (None: not mapped)."""
    kind, model = config.get("project_type"), str(config.get("Model") or "").lower()
    backbone = config.get("backbone")
    defaults = {name.lower(): choice for name, choice in DEFAULT_BACKBONES.items()}
    backbone = defaults.get(model, "") if backbone in (None, "", "NA") else str(backbone)
    for (their_kind, ours, needed), name in NAMES.items():
        if their_kind == kind and ours.lower() == model and (needed is None or needed.lower() == backbone.lower()):
            return name
    return None


def _steps(config: dict[str, Any]) -> dict[str, Any]:
    """deploy.yml's Transforms as {name: arguments}."""
    return {name: args for step in config["Transforms"] for name, args in step.items()}


def inference_yml(config: dict[str, Any]) -> dict[str, Any] | None:
    """PaddleX 3's inference.yml for a deploy config (see the module docstring), or None when not mapped."""
    name = model_name(config)
    if name is None or int(config.get("in_channels") or 3) != 3:
        return None
    steps = _steps(config)
    mean, std = list(steps["Normalize"]["mean"]), list(steps["Normalize"]["std"])
    labels = list(config["labels"])
    if config["project_type"] == "classification":
        return {"Global": {"model_name": name},
                "PreProcess": {"transform_ops": [
                    {"ResizeImage": {"resize_short": int(steps["ResizeByShort"]["short_size"])}},
                    {"CropImage": {"size": [int(v) for v in steps["CenterCrop"]["size"]]}},
                    {"NormalizeImage": {"mean": mean, "std": std, "scale": 1 / 255, "order": "", "channel_num": 3}},
                    {"ToCHWImage": None}]},
                "PostProcess": {"Topk": {"topk": min(TOPK, len(labels)), "label_list": labels}}}
    width, height = (int(v) for v in steps["Resize"]["target_size"])
    interp = str(steps["Resize"]["interp"])
    if config["project_type"] == "segmentation":
        return {"Global": {"model_name": name},
                "Deploy": {"model": config["program"], "params": config["params"], "transforms": [
                    {"type": "Resize", "target_size": [width, height], "keep_ratio": False, "size_divisor": None,
                     "interp": interp},
                    {"type": "Normalize", "mean": mean, "std": std}]}}
    return {"Global": {"model_name": name},
            "Preprocess": [{"type": "Resize", "target_size": [height, width], "keep_ratio": False, "interp": interp},
                           {"type": "NormalizeImage", "mean": mean, "std": std, "is_scale": True,
                            "norm_type": "mean_std"},
                           {"type": "Permute"}],
            "label_list": labels, "draw_threshold": DRAW_THRESHOLD}


def write(folder: str, config: dict[str, Any]) -> str | None:
    """Write `folder/inference.yml` for an export PaddleX 3 can run; its path, or None when none is written."""
    import yaml

    document = inference_yml(config) if config.get("project_type") in WRITTEN else None
    if document is None:
        return None
    onednn = config.get("onednn") or {}
    if onednn.get("runs") is False:  # PaddleX's default CPU mode is oneDNN: say what to do instead
        document["pdxsrv_onednn"] = {**onednn, "note": onednn.get("note", "") + "; in PaddleX pass "
                                     "engine_config={'run_mode': 'paddle'}"}
    path = os.path.join(folder, FILE)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(document, f, allow_unicode=True, sort_keys=False)
    return path
