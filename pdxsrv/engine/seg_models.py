"""The semantic segmentation networks: paddleseg 2.8 architectures, trained from scratch, any band count.

Every builder takes (num_classes, in_channels, params) and passes no pretrained weights, so nothing is
ever downloaded. paddleseg is imported on first use: listing the models needs no paddle.
"""

from __future__ import annotations

from typing import Any, Callable

from pdxsrv.engine.base import EngineError

DEEPLAB_BACKBONES = ("ResNet50_vd", "ResNet101_vd")


def _unet(num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """UNet with bilinear upsampling (the original's default, no deconvolution)."""
    from paddleseg.models import UNet

    return UNet(num_classes=num_classes, in_channels=in_channels, use_deconv=False)


def _deeplab(num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """DeepLabV3+ on a ResNet-vd backbone (output stride 8, as PaddleX configured it)."""
    from paddleseg.models import DeepLabV3P, backbones

    name = params.get("backbone") or DEEPLAB_BACKBONES[0]
    if name not in DEEPLAB_BACKBONES:
        raise EngineError(f"backbone {name!r} is not supported for DeepLabV3P; one of: {', '.join(DEEPLAB_BACKBONES)}")
    backbone = getattr(backbones, name)(in_channels=in_channels, output_stride=8, multi_grid=(1, 2, 4))
    return DeepLabV3P(num_classes=num_classes, backbone=backbone, backbone_indices=(0, 3),
                      aspp_ratios=(1, 12, 24, 36))


def _bisenet(num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """BiSeNetV2 (four auxiliary heads in training)."""
    from paddleseg.models import BiSeNetV2

    return BiSeNetV2(num_classes=num_classes, in_channels=in_channels)


def _hrnet(num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """An FCN head on the HRNet-W18 backbone."""
    from paddleseg.models import FCN, backbones

    return FCN(num_classes=num_classes, backbone=backbones.HRNet_W18(in_channels=in_channels), backbone_indices=(-1,))


def _fastscnn(num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """Fast-SCNN (one auxiliary head)."""
    from paddleseg.models import FastSCNN

    return FastSCNN(num_classes=num_classes, in_channels=in_channels)


def _ppliteseg(num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """PP-LiteSeg on the STDC1 backbone (two auxiliary heads in training)."""
    from paddleseg.models import PPLiteSeg, backbones

    return PPLiteSeg(num_classes=num_classes, backbone=backbones.STDC1(in_channels=in_channels))


BUILDERS: dict[str, Callable[[int, int, dict[str, Any]], Any]] = {
    "UNet": _unet,
    "DeepLabV3P": _deeplab,
    "BiSeNetV2": _bisenet,
    "HRNet_W18": _hrnet,
    "FastSCNN": _fastscnn,
    "PPLiteSeg": _ppliteseg,
}
MODELS: tuple[str, ...] = tuple(BUILDERS)


def build(model: str, num_classes: int, in_channels: int, params: dict[str, Any]) -> Any:
    """A fresh paddle.nn.Layer for `model` (name matched case-insensitively; EngineError if unknown)."""
    by_lower = {name.lower(): name for name in MODELS}
    name = by_lower.get(str(model).lower())
    if name is None:
        raise EngineError(f"model {model!r} is not supported for segmentation; one of: {', '.join(MODELS)}")
    if num_classes < 1 or in_channels < 1:
        raise EngineError(f"cannot build {name} for {num_classes} classes and {in_channels} bands")
    return BUILDERS[name](num_classes, in_channels, params)
