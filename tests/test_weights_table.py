"""The weights table against our networks: every model has its entries, names fit our state_dicts, and the
classification URLs and md5s are paddle.vision's own. Reference networks are built under paddle.LazyGuard."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from pdxsrv.domain import params
from pdxsrv.engine import classification, seg_models
from pdxsrv.weights import ENTRIES, NOT_PUBLISHED, Entry, NoWeights, lookup

# The toolkit class each backbone file was made for (the publisher's config builds it as our network does).
BACKBONE_CLASS = {
    ("DeepLabV3P", "ResNet50_vd"): "ResNet_vd", ("DeepLabV3P", "ResNet101_vd"): "ResNet_vd",
    ("HRNet_W18", None): "HRNet", ("PPLiteSeg", None): "STDCNet", ("YOLOv3", "MobileNetV1"): "MobileNet",
    ("YOLOv3", "MobileNetV3"): "MobileNetV3", ("YOLOv3", "DarkNet53"): "DarkNet", ("YOLOv3", "ResNet34"): "ResNet",
    ("PPYOLO", "ResNet50_vd"): "ResNet", ("PPYOLOTiny", "MobileNetV3"): "MobileNetV3", ("PicoDet", "LCNet"): "LCNet",
    ("FasterRCNN", "ResNet50"): "ResNet", ("FasterRCNN", "ResNet34"): "ResNet", ("MaskRCNN", "ResNet50"): "ResNet",
}


def _names(net: Any) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in net.state_dict().items()}


def _ours(entry: Entry) -> Any:
    """Our network for the entry (5 classes); built without initialising weights where the builder allows."""
    import paddle

    if entry.model in classification.ARCHITECTURES:  # its builder runs the network once (engine/strides.py)
        return classification.ClassificationKind().build_model(entry.model, 5, 3, {})
    with paddle.LazyGuard():
        if entry.model in seg_models.MODELS:
            return seg_models.build(entry.model, 5, 3, {"backbone": entry.backbone})
        from pdxsrv.engine import det_models

        return det_models.build(entry.model, 5, entry.backbone)


class _Asked(Exception):
    """What paddle.vision would download: raised instead of downloading it."""


def _vision_download(arch: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(url, md5) paddle.vision's constructor `arch` fetches with pretrained=True."""
    import paddle
    import paddle.vision.models as vision

    constructor = getattr(vision, arch)

    def asked(url: str, md5: str) -> str:
        raise _Asked(url, md5)

    monkeypatch.setattr(sys.modules[constructor.__module__], "get_weights_path_from_url", asked)
    with pytest.raises(_Asked) as got, paddle.LazyGuard():
        constructor(pretrained=True)
    return got.value.args


def test_every_model_has_its_entries_and_defaults_are_the_engines() -> None:
    models = {e.model for e in ENTRIES}
    assert {m for m in classification.ARCHITECTURES} <= models
    assert set(seg_models.MODELS) <= models and set(params.BACKBONES) <= models
    for model, backbones in params.BACKBONES.items():
        assert lookup(model, "COCO").backbone == backbones[0]
        assert {e.backbone for e in ENTRIES if e.model == model} <= set(backbones)
    assert lookup("DeepLabV3P", "IMAGENET").backbone == seg_models.DEEPLAB_BACKBONES[0]
    assert {e.backbone for e in ENTRIES if e.model == "DeepLabV3P"} == set(seg_models.DEEPLAB_BACKBONES)
    assert len({(e.model, e.backbone, e.keyword) for e in ENTRIES}) == len(ENTRIES)
    assert len({e.file for e in ENTRIES if not e.shared}) == len([e for e in ENTRIES if not e.shared])
    for (model, backbone, keyword), reason in NOT_PUBLISHED.items():
        with pytest.raises(NoWeights, match="there are no"):
            lookup(model, keyword, backbone)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.model in classification.ARCHITECTURES],
                         ids=lambda e: e.model)
def test_classification_entries_are_paddle_visions(entry: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    import paddle
    import paddle.vision.models as vision

    arch = classification.ARCHITECTURES[entry.model]
    url, md5 = _vision_download(arch, monkeypatch)
    assert (entry.url, entry.checksum and entry.checksum.algorithm, entry.checksum and entry.checksum.hex) == (
        url, "md5", md5)
    with paddle.LazyGuard():
        published = _names(getattr(vision, arch)(pretrained=False))  # what the file holds: 1000 classes
    ours = _names(_ours(entry))
    assert {entry.target(k) for k in published} == set(ours)
    differ = [k for k in published if published[k] != ours[entry.target(k)]]
    assert len(differ) == 2 and all(published[k][-1] == 1000 for k in differ), differ  # only the classifier


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.prefix], ids=lambda e: e.file)
def test_backbone_entries_fit_under_the_prefix(entry: Entry) -> None:
    ours = _ours(entry)
    backbone = ours.backbone
    assert type(backbone).__name__ == BACKBONE_CLASS[entry.model, entry.backbone]
    assert entry.prefix == "backbone."
    assert {entry.target(k): v for k, v in _names(backbone).items()}.items() <= _names(ours).items()


@pytest.mark.parametrize("entry", [e for e in ENTRIES if not e.prefix and e.config], ids=lambda e: e.file)
def test_whole_model_entries_name_their_publishers_config(entry: Entry) -> None:
    kind = "segmentation" if entry.model in seg_models.MODELS else "detection"
    tree = "paddleseg/dygraph/cityscapes/" if kind == "segmentation" else "paddledet.bj.bcebos.com/models/"
    stem = entry.config.rsplit("/", 1)[1][: -len(".yml")]
    assert tree in entry.url and stem in entry.url  # the file is the one that config trained
    assert _names(_ours(entry))  # our network builds; bench/weights_check.py compares it with the config's
