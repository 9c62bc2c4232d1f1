"""The model registry, pure: which models and backbones each project type trains, each type's default model,
the names the original's clients send, and which operations refuse which models.

What a new task should train with is `pdxsrv.domain.recipes` (the original's fine-tuning values in
`pdxsrv.domain.fine_tune`, from-scratch recipes in `pdxsrv.domain.from_scratch`).
"""

from __future__ import annotations

from typing import Mapping

from pdxsrv.domain.errors import InvalidArgument

_SEG_MODELS = ("DeepLabV3P", "BiSeNetV2", "UNet", "HRNet_W18", "FastSCNN", "PPLiteSeg")
MODELS: dict[str, tuple[str, ...]] = {
    # What the engine trains (pdxsrv.engine.classification: paddle.vision.models; the _ssld names
    # only named pretrained weights, so they build the plain networks).
    "classification": (
        "MobileNetV1", "MobileNetV2", "MobileNetV3_small", "MobileNetV3_large", "MobileNetV3_small_ssld",
        "MobileNetV3_large_ssld", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "ShuffleNetV2",
        "DenseNet121", "DenseNet161", "DenseNet169", "DenseNet201",
    ),
    # pdxsrv.engine.det_models (paddledet networks built in code). PPYOLOv2 and SOLOv2 are not offered.
    "detection": ("YOLOv3", "PPYOLO", "PPYOLOTiny", "PicoDet", "FasterRCNN"),
    "segmentation": _SEG_MODELS,
    "instance_segmentation": ("MaskRCNN",),
    "remote_segmentation": _SEG_MODELS,
}
# What post-training quantization (export `quant: true`, pdxsrv.engine.quant) handles. Segmentation
# networks cannot be traced to the old program format that paddle's PTQ needs on paddle 3.3.1
# (docs/design-notes.md "Quantized export").
QUANTIZABLE_TYPES: tuple[str, ...] = ("classification",)
# What `type: onnx` cannot export with paddle2onnx 2.1.0 (`python bench/export_check.py --onnx`,
# bench/RESULTS.md), by project type, then by model; refused at POST with the reason.
_NO_DETECTION_ONNX = ("paddle2onnx 2.1.0 cannot convert paddledet's programs: it aborts on Faster/Mask R-CNN, "
                      "PP-YOLO and PP-YOLO-tiny, fails on YOLOv3's box decoding, and no converted detector kept "
                      "the trained model's boxes")
_NO_POOL_ONNX = ("paddle2onnx 2.1.0 turns its adaptive pooling into an AveragePool with zero strides, which "
                 "ONNX Runtime refuses to load")
ONNX_UNSUPPORTED: dict[str, str] = {"detection": _NO_DETECTION_ONNX, "instance_segmentation": _NO_DETECTION_ONNX,
                                    "FastSCNN": _NO_POOL_ONNX, "PPLiteSeg": _NO_POOL_ONNX}


# What pruning (POST /project/task/prune, pdxsrv.engine.channels) cannot handle, by project type, then
# by model; refused at POST with the reason. The original refused Faster/Mask R-CNN too.
_NO_DETECTION_PRUNE = ("pruning follows channels through a traced program, and paddledet's detectors do not trace to "
                       "the program format it reads")
_NO_TRACE_PRUNE = ("paddleseg's network does not trace to the old program format the channel analysis reads on "
                   "paddle 3.3.1 (its shape checks need the new one)")
PRUNE_UNSUPPORTED: dict[str, str] = {"detection": _NO_DETECTION_PRUNE, "instance_segmentation": _NO_DETECTION_PRUNE,
                                     "BiSeNetV2": _NO_TRACE_PRUNE, "PPLiteSeg": _NO_TRACE_PRUNE}


def refusal(unsupported: Mapping[str, str], project_type: str, model: str) -> str | None:
    """Why `model` of `project_type` is in `unsupported` (ONNX_UNSUPPORTED, PRUNE_UNSUPPORTED), or None."""
    return unsupported.get(project_type) or unsupported.get(model)


# Backbones per detection model (the first is the default); "NA" or "" (the web demo's "none") means the default.
BACKBONES: dict[str, tuple[str, ...]] = {
    "YOLOv3": ("MobileNetV1", "MobileNetV3", "DarkNet53", "ResNet34"),
    "PPYOLO": ("ResNet50_vd",),
    "PPYOLOTiny": ("MobileNetV3",),
    "PicoDet": ("LCNet",),
    "FasterRCNN": ("ResNet50", "ResNet34", "ResNet18"),
    "MaskRCNN": ("ResNet50", "ResNet18"),
}
# The least image_shape side a model trains at: PicoDet's coarsest level must hold 9 anchors; PP-YOLO's DropBlock
# (block 3) needs maps of 3 at stride 32 (a ZeroDivisionError in paddledet below).
MIN_SIDE: dict[str, int] = {"PicoDet": 160, "PPYOLO": 96, "PPYOLOTiny": 96}
ALIASES = {"U-Net": "UNet", "DeepLabv3+": "DeepLabV3P", "HRNet": "HRNet_W18"}  # names the original's clients send
DEFAULT_MODEL: dict[str, str] = {
    "classification": "MobileNetV2",
    "detection": "YOLOv3",
    "segmentation": "DeepLabV3P",
    "instance_segmentation": "MaskRCNN",
    "remote_segmentation": "DeepLabV3P",
}


def choose_model(project_type: str, model_type: str | None) -> str:
    """`model_type` checked against the project type's models, or the type's default model."""
    if project_type not in MODELS:
        raise InvalidArgument(f"project type {project_type!r} is not one of {', '.join(MODELS)}")
    model = DEFAULT_MODEL[project_type] if model_type is None else model_type
    if model not in MODELS[project_type]:
        raise InvalidArgument(f"model_type {model!r} is not a {project_type} model; "
                              f"choose one of {', '.join(MODELS[project_type])}")
    return model
