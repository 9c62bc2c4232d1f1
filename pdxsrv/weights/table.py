"""The pretrained-weights table: (model, backbone, keyword) -> where PaddlePaddle publishes the file, and how it fits.

An `Entry` holds the official URL; the checksum where the publisher publishes one (paddle.vision's md5s; PaddleSeg
and PaddleDetection publish none: None); `prefix`, what to put before each of the file's tensor names to get our
network's `state_dict` name ("" for a whole-model file, "backbone." for a backbone-only file); `config`, the
publisher's training config (relative to its repository's `configs/`) for whole-model files; and `source`, a note.
`file` is the flat cache and mirror file name, `<model>[_<backbone>]_<KEYWORD>.pdparams` (the `_ssld`
classification names share their plain model's file: they build the same network). A `.tar.gz` URL is an archive
holding `<dir>/model.pdparams`; a mirror serves it as `<file stem>.tar.gz` (`Entry.mirror_name`).

How names were checked (offline, paddle 3.3.1, paddleseg 2.8.0, paddledet 2.6.0):
* classification: paddle.vision saves and loads these files with `set_dict` on the same constructors we build
  (`engine/classification.ARCHITECTURES`), so the names are the network's own; the URLs and md5s are paddle.vision's
  `model_urls`. tests/test_weights.py holds both against the installed paddle (all but the classifier match shapes).
* whole-model segmentation and detection files: the publisher's network was built from `config` (PaddleSeg v2.8.0,
  PaddleDetection release/2.6) and compared with ours for 19 / 80 classes (`bench/weights_check.py`): the same names
  and shapes, except PP-YOLO (its config adds IoU-aware channels: the 6 `yolo_head.yolo_output.*` tensors differ in
  shape) and PP-LiteSeg (every published model uses `arm_out_chs [32, 64, 128]`, `seg_head_inter_chs [32, 64, 64]`;
  ours uses paddleseg's defaults, so 22 `ppseg_head` tensors differ in shape). A loader skips such tensors.
* backbone files: "backbone." + the toolkit backbone class's names are a subset of our network's names (tested).
  Not checked offline: the names inside the published files themselves. PaddleSeg loads its backbone archives by
  exact name into the same classes; PaddleDetection loads its ImageNet files by suffix (`match_state_dict`: our
  name ends with the file's name), which prefix "backbone." reproduces when the file holds the backbone's own names.
  The file bytes, sizes and any md5 of the PaddleSeg/PaddleDetection files could not be checked (no internet).
"""

from __future__ import annotations

from dataclasses import dataclass

from pdxsrv.domain.train_keys import WEIGHT_KEYWORDS
from pdxsrv.download import Digest
from pdxsrv.weights.errors import NoWeights

KEYWORDS = WEIGHT_KEYWORDS
HAPI = "https://paddle-hapi.bj.bcebos.com/models/"
CLAS = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/"
SEG = "https://bj.bcebos.com/paddleseg/dygraph/"
DET = "https://paddledet.bj.bcebos.com/models/"


@dataclass(frozen=True)
class Entry:
    """One published weights file and how its names map onto our network (see the module docstring)."""

    model: str
    backbone: str | None
    keyword: str
    url: str
    checksum: Digest | None
    prefix: str
    source: str
    config: str | None = None
    shared: str | None = None  # the model whose file this entry shares (the _ssld classification names)

    @property
    def file(self) -> str:
        """The flat cache file name."""
        parts = [self.shared or self.model, self.backbone, self.keyword]
        return "_".join(p for p in parts if p) + ".pdparams"

    @property
    def archive(self) -> bool:
        """Whether the URL serves a .tar.gz holding model.pdparams."""
        return self.url.endswith((".tar.gz", ".tgz"))

    @property
    def mirror_name(self) -> str:
        """The name a --weights-mirror serves this entry's download under."""
        return self.file[: -len(".pdparams")] + ".tar.gz" if self.archive else self.file

    def target(self, name: str) -> str:
        """Our state_dict name for the file's tensor `name`."""
        return self.prefix + name


def _vision(model: str, path: str, md5: str, shared: str | None = None) -> Entry:
    url = (CLAS if path.startswith("DenseNet") else HAPI) + path
    return Entry(model, None, "IMAGENET", url, Digest("md5", md5), "", "paddle.vision model_urls", shared=shared)


def _seg(model: str, backbone: str | None, config: str) -> Entry:
    """A PaddleSeg v2.8 Cityscapes model, trained with configs/<config>.yml."""
    url = f"{SEG}cityscapes/{config.split('/')[1]}/model.pdparams"
    return Entry(model, backbone, "CITYSCAPES", url, None, "", "PaddleSeg v2.8 model zoo", config + ".yml")


def _seg_backbone(model: str, backbone: str | None, archive: str) -> Entry:
    """A PaddleSeg ImageNet backbone archive (the backbone's `pretrained` in PaddleSeg's configs)."""
    return Entry(model, backbone, "IMAGENET", SEG + archive, None, "backbone.", "PaddleSeg backbone (ImageNet)")


def _coco(model: str, backbone: str, config: str) -> Entry:
    """A PaddleDetection release/2.6 COCO model, trained with configs/<config>.yml."""
    name = config.split("/")[1]
    return Entry(model, backbone, "COCO", f"{DET}{name}.pdparams", None, "", "PaddleDetection 2.6 model zoo",
                 config + ".yml")


def _det_backbone(model: str, backbone: str, url: str) -> Entry:
    """An ImageNet backbone file: the `pretrain_weights` of the PaddleDetection config of this network."""
    full = url if url.startswith("https://") else f"{DET}pretrained/{url}"
    return Entry(model, backbone, "IMAGENET", full, None, "backbone.", "PaddleDetection config pretrain_weights")


# The default backbone of a model is its first entry here (the engine's default: tests hold them equal).
ENTRIES: tuple[Entry, ...] = (
    _vision("MobileNetV1", "mobilenetv1_1.0.pdparams", "3033ab1975b1670bef51545feb65fc45"),
    _vision("MobileNetV2", "mobilenet_v2_x1.0.pdparams", "0340af0a901346c8d46f4529882fb63d"),
    _vision("MobileNetV3_small", "mobilenet_v3_small_x1.0.pdparams", "34fe0e7c1f8b00b2b056ad6788d0590c"),
    _vision("MobileNetV3_large", "mobilenet_v3_large_x1.0.pdparams", "118db5792b4e183b925d8e8e334db3df"),
    _vision("MobileNetV3_small_ssld", "mobilenet_v3_small_x1.0.pdparams", "34fe0e7c1f8b00b2b056ad6788d0590c",
            shared="MobileNetV3_small"),
    _vision("MobileNetV3_large_ssld", "mobilenet_v3_large_x1.0.pdparams", "118db5792b4e183b925d8e8e334db3df",
            shared="MobileNetV3_large"),
    _vision("ResNet18", "resnet18.pdparams", "cf548f46534aa3560945be4b95cd11c4"),
    _vision("ResNet34", "resnet34.pdparams", "8d2275cf8706028345f78ac0e1d31969"),
    _vision("ResNet50", "resnet50.pdparams", "ca6f485ee1ab0492d38f323885b0ad80"),
    _vision("ResNet101", "resnet101.pdparams", "02f35f034ca3858e1e54d4036443c92d"),
    _vision("ResNet152", "resnet152.pdparams", "7ad16a2f1e7333859ff986138630fd7a"),
    _vision("ShuffleNetV2", "shufflenet_v2_x1_0.pdparams", "122d42478b9e81eb49f8a9ede327b1a4"),
    _vision("DenseNet121", "DenseNet121_pretrained.pdparams", "db1b239ed80a905290fd8b01d3af08e4"),
    _vision("DenseNet161", "DenseNet161_pretrained.pdparams", "62158869cb315098bd25ddbfd308a853"),
    _vision("DenseNet169", "DenseNet169_pretrained.pdparams", "82cc7c635c3f19098c748850efb2d796"),
    _vision("DenseNet201", "DenseNet201_pretrained.pdparams", "16ca29565a7712329cf9e36e02caaf58"),
    # BiSeNetV2: PaddleSeg's README links the BiSeNetV1 file by mistake; this is the one its tests and LaneSeg use.
    _seg("BiSeNetV2", None, "bisenet/bisenet_cityscapes_1024x1024_160k"),
    _seg("PPLiteSeg", None, "pp_liteseg/pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k"),
    _seg("HRNet_W18", None, "fcn/fcn_hrnetw18_cityscapes_1024x512_80k"),
    _seg("FastSCNN", None, "fastscnn/fastscnn_cityscapes_1024x1024_160k"),
    _seg("UNet", None, "unet/unet_cityscapes_1024x512_160k"),
    _seg("DeepLabV3P", "ResNet50_vd", "deeplabv3p/deeplabv3p_resnet50_os8_cityscapes_1024x512_80k"),
    _seg("DeepLabV3P", "ResNet101_vd", "deeplabv3p/deeplabv3p_resnet101_os8_cityscapes_1024x512_80k"),
    _seg_backbone("DeepLabV3P", "ResNet50_vd", "resnet50_vd_ssld_v2.tar.gz"),
    _seg_backbone("DeepLabV3P", "ResNet101_vd", "resnet101_vd_ssld.tar.gz"),
    _seg_backbone("HRNet_W18", None, "hrnet_w18_ssld.tar.gz"),
    _seg_backbone("PPLiteSeg", None, "PP_STDCNet1.tar.gz"),
    _coco("YOLOv3", "MobileNetV1", "yolov3/yolov3_mobilenet_v1_270e_coco"),
    _coco("YOLOv3", "MobileNetV3", "yolov3/yolov3_mobilenet_v3_large_270e_coco"),
    _coco("YOLOv3", "DarkNet53", "yolov3/yolov3_darknet53_270e_coco"),
    _coco("YOLOv3", "ResNet34", "yolov3/yolov3_r34_270e_coco"),
    _coco("PPYOLO", "ResNet50_vd", "ppyolo/ppyolo_r50vd_dcn_2x_coco"),
    _coco("PPYOLOTiny", "MobileNetV3", "ppyolo/ppyolo_tiny_650e_coco"),
    _coco("PicoDet", "LCNet", "picodet/picodet_s_320_coco_lcnet"),
    _coco("FasterRCNN", "ResNet50", "faster_rcnn/faster_rcnn_r50_fpn_2x_coco"),
    _coco("FasterRCNN", "ResNet34", "faster_rcnn/faster_rcnn_r34_fpn_1x_coco"),
    _coco("MaskRCNN", "ResNet50", "mask_rcnn/mask_rcnn_r50_fpn_2x_coco"),
    _det_backbone("YOLOv3", "MobileNetV1", "MobileNetV1_pretrained.pdparams"),
    _det_backbone("YOLOv3", "MobileNetV3", "MobileNetV3_large_x1_0_ssld_pretrained.pdparams"),
    _det_backbone("YOLOv3", "DarkNet53", "DarkNet53_pretrained.pdparams"),
    _det_backbone("YOLOv3", "ResNet34", "ResNet34_pretrained.pdparams"),
    _det_backbone("PPYOLO", "ResNet50_vd", "ResNet50_vd_ssld_pretrained.pdparams"),
    _det_backbone("PPYOLOTiny", "MobileNetV3", "MobileNetV3_large_x0_5_pretrained.pdparams"),
    _det_backbone("PicoDet", "LCNet", CLAS + "legendary_models/PPLCNet_x0_75_pretrained.pdparams"),
    _det_backbone("FasterRCNN", "ResNet50", "ResNet50_cos_pretrained.pdparams"),
    _det_backbone("FasterRCNN", "ResNet34", "ResNet34_pretrained.pdparams"),
    _det_backbone("MaskRCNN", "ResNet50", "ResNet50_cos_pretrained.pdparams"),
)

_NO_R18 = ("PaddleDetection 2.6 publishes neither a ResNet18 R-CNN nor ImageNet weights for its ResNet18 backbone; "
           "choose the ResNet50 backbone, or train from scratch (pretrain_weights null)")
# Combinations the original offered or a user may expect, with why there is no file for them.
NOT_PUBLISHED: dict[tuple[str, str | None, str], str] = {
    ("UNet", None, "COCO"): "PaddleSeg publishes no COCO UNet for its dygraph UNet (the original's unet_coco_v3.tgz "
                            "is a PaddlePaddle 1.x static-graph file that paddleseg 2.8 cannot load); use CITYSCAPES",
    ("FasterRCNN", "ResNet18", "COCO"): _NO_R18, ("FasterRCNN", "ResNet18", "IMAGENET"): _NO_R18,
    ("MaskRCNN", "ResNet18", "COCO"): _NO_R18, ("MaskRCNN", "ResNet18", "IMAGENET"): _NO_R18,
}
_KEYS = {(e.model, e.backbone, e.keyword) for e in ENTRIES}


def _canonical(model: str) -> str:
    """The table's spelling of `model` (matched case-insensitively), or `model` itself."""
    return {e.model.lower(): e.model for e in ENTRIES}.get(model.lower(), model)


def offered(model: str) -> list[Entry]:
    """Every entry of `model` (any backbone, any keyword), in table order."""
    name = _canonical(model)
    return [e for e in ENTRIES if e.model == name]


def lookup(model: str, keyword: str, backbone: str | None = None) -> Entry:
    """The entry for `model` / `keyword` on `backbone` (None, "" or "NA": the model's default); NoWeights if none."""
    name, key = _canonical(model), str(keyword).upper()
    entries = offered(name)
    backbones = list(dict.fromkeys(e.backbone for e in entries))
    chosen = backbones[0] if backbone in (None, "", "NA") and backbones else backbone
    chosen = {str(b).lower(): b for b in backbones}.get(str(chosen).lower(), chosen)
    for entry in entries:
        if entry.keyword == key and entry.backbone == chosen:
            return entry
    on = f" on {chosen}" if chosen else ""
    if (name, chosen, key) in NOT_PUBLISHED:
        raise NoWeights(f"there are no {key} weights for {name}{on}: {NOT_PUBLISHED[(name, chosen, key)]}")
    if not entries:
        raise NoWeights(f"no pretrained weights are known for {name}: train it from scratch (pretrain_weights null)")
    have = "; ".join(f"{k}" + (" (" + ", ".join(b for b in backbones if (name, b, k) in _KEYS) + ")"
                               if any(backbones) else "")
                     for k in dict.fromkeys(e.keyword for e in entries))
    raise NoWeights(f"there are no {key} weights for {name}{on}; {name} has {have}; or train from scratch "
                    "(pretrain_weights null)")
