"""The detection and instance segmentation networks: paddledet 2.6.0 architectures built in code, from scratch.

Models are assembled from `ppdet.modeling` classes (no YAML, no workspace registry, no pretrained weights),
so ResNet backbones train every stage with live batch norm (freeze_at=-1, freeze_norm=False).
`train_inputs` / `eval_inputs` turn per-image samples into the inputs dict each family's forward reads:

    {"image": float32 C x H x W (one size per batch), "gt_bbox": float32 [n, 4] x1 y1 x2 y2 in pixels of
     that image, "gt_class": int [n] (0-based), "gt_poly": per box a list of flat [x0, y0, x1, y1, ...]
     polygons (Mask R-CNN only), "scale_factor": optional (image / original size, y then x; default 1)}

Input dtype rule: PicoDet needs gt_class int64 (its ATSSAssigner adds int64 indices to an arange of the
label dtype, and paddle 3 refuses int64 + int32), the R-CNN family int32. Eval outputs `bbox` float32
[N, 6] (class, score, x1, y1, x2, y2 in original pixels) and `bbox_num` [B]; Mask R-CNN adds `mask`.
R-CNN models export for batch 1 only (per-image proposal counts differ). SOLOv2 is not offered: its eval
path indexes 0-D tensors and fails on paddle 3.3.1.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from pdxsrv.domain import params as params_table
from pdxsrv.engine import augment
from pdxsrv.engine.base import EngineError
from pdxsrv.engine.compat import apply_detection_shims

DETECTION_MODELS: tuple[str, ...] = ("YOLOv3", "PPYOLO", "PPYOLOTiny", "PicoDet", "FasterRCNN")
INSTANCE_SEGMENTATION_MODELS: tuple[str, ...] = ("MaskRCNN",)
MODELS: tuple[str, ...] = DETECTION_MODELS + INSTANCE_SEGMENTATION_MODELS
# Backbone choices per model, the first the default: the domain's table, which the API checks tasks against.
BACKBONES: dict[str, tuple[str, ...]] = params_table.BACKBONES
YOLO_FAMILY: tuple[str, ...] = ("YOLOv3", "PPYOLO", "PPYOLOTiny")
RCNN_FAMILY: tuple[str, ...] = ("FasterRCNN", "MaskRCNN")

YOLO_ANCHORS = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198], [373, 326]]
TINY_ANCHORS = [[10, 15], [24, 36], [72, 42], [35, 87], [102, 96], [60, 170], [220, 125], [128, 222], [264, 266]]
ANCHOR_MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
YOLO_MAX_BOXES = 50  # PadBox size of paddledet's YOLO readers


def _channels(layer: Any) -> list[int]:
    """The output channels of a backbone or neck, one per level."""
    return [s.channels for s in layer.out_shape]


def _resnet(depth: int, **kwargs: Any) -> Any:
    """A paddledet ResNet trained from scratch (the configs' frozen stages and norms assume ImageNet weights)."""
    from ppdet.modeling.backbones import ResNet

    return ResNet(depth=depth, freeze_at=-1, freeze_norm=False, **kwargs)


def _yolo(num_classes: int, backbone: Any, neck: Any, anchors: list[list[int]], ppyolo: bool) -> Any:
    """A YOLOv3 architecture; `ppyolo` adds PP-YOLO's IoU loss, grid scaling and Matrix NMS."""
    from ppdet.modeling.architectures import YOLOv3
    from ppdet.modeling.heads import YOLOv3Head
    from ppdet.modeling.layers import MatrixNMS, MultiClassNMS, YOLOBox
    from ppdet.modeling.losses.iou_loss import IouLoss
    from ppdet.modeling.losses.yolo_loss import YOLOv3Loss
    from ppdet.modeling.post_process import BBoxPostProcess

    extra: dict[str, Any] = {"scale_x_y": 1.05} if ppyolo else {}
    loss = YOLOv3Loss(num_classes=num_classes, ignore_thresh=0.5 if ppyolo else 0.7, downsample=[32, 16, 8],
                      label_smooth=False, iou_loss=IouLoss(loss_weight=2.5, loss_square=True) if ppyolo else None,
                      **extra)
    head = YOLOv3Head(in_channels=_channels(neck), anchors=anchors, anchor_masks=ANCHOR_MASKS,
                      num_classes=num_classes, loss=loss)
    nms = (MatrixNMS(keep_top_k=100, score_threshold=0.01, post_threshold=0.01, nms_top_k=-1, background_label=-1)
           if ppyolo else MultiClassNMS(score_threshold=0.01, nms_top_k=1000, keep_top_k=100, nms_threshold=0.45))
    decode = YOLOBox(num_classes=num_classes, conf_thresh=0.005, downsample_ratio=32, clip_bbox=True, **extra)
    return YOLOv3(backbone=backbone, neck=neck, yolo_head=head,
                  post_process=BBoxPostProcess(num_classes=num_classes, decode=decode, nms=nms))


def _yolov3(num_classes: int, backbone: str, params: dict[str, Any] | None = None) -> Any:
    """YOLOv3 on one of four backbones."""
    from ppdet.modeling.backbones import DarkNet, MobileNet, MobileNetV3
    from ppdet.modeling.necks import YOLOv3FPN

    if backbone == "MobileNetV1":
        bb = MobileNet(scale=1, feature_maps=[4, 6, 13], with_extra_blocks=False, extra_block_filters=[])
    elif backbone == "MobileNetV3":
        bb = MobileNetV3(model_name="large", scale=1.0, feature_maps=[7, 13, 16], with_extra_blocks=False,
                         extra_block_filters=[])
    elif backbone == "DarkNet53":
        bb = DarkNet(depth=53, return_idx=[2, 3, 4])
    else:
        bb = _resnet(34, return_idx=[1, 2, 3], norm_decay=0.0)
    return _yolo(num_classes, bb, YOLOv3FPN(in_channels=_channels(bb)), YOLO_ANCHORS, ppyolo=False)


def _ppyolo(num_classes: int, backbone: str, params: dict[str, Any] | None = None) -> Any:
    """PP-YOLO: ResNet50-vd with DCNv2, CoordConv, SPP and DropBlock."""
    from ppdet.modeling.necks import PPYOLOFPN

    bb = _resnet(50, variant="d", return_idx=[1, 2, 3], dcn_v2_stages=[3], norm_decay=0.0)
    neck = PPYOLOFPN(in_channels=_channels(bb), coord_conv=True, drop_block=True, block_size=3, keep_prob=0.9,
                     spp=True)
    return _yolo(num_classes, bb, neck, YOLO_ANCHORS, ppyolo=True)


def _ppyolo_tiny(num_classes: int, backbone: str, params: dict[str, Any] | None = None) -> Any:
    """PP-YOLO tiny: MobileNetV3-large x0.5."""
    from ppdet.modeling.backbones import MobileNetV3
    from ppdet.modeling.necks import PPYOLOTinyFPN

    bb = MobileNetV3(model_name="large", scale=0.5, with_extra_blocks=False, extra_block_filters=[],
                     feature_maps=[7, 13, 16])
    neck = PPYOLOTinyFPN(in_channels=_channels(bb), detection_block_channels=[160, 128, 96], spp=True,
                         drop_block=True)
    return _yolo(num_classes, bb, neck, TINY_ANCHORS, ppyolo=True)


def _picodet(num_classes: int, backbone: str, params: dict[str, Any] | None = None) -> Any:
    """PicoDet-s: LCNet x0.75, LCPAN and the v2 head (ATSS assigner for the first 100 epochs)."""
    from ppdet.modeling.architectures import PicoDet
    from ppdet.modeling.assigners.atss_assigner import ATSSAssigner
    from ppdet.modeling.assigners.task_aligned_assigner import TaskAlignedAssigner
    from ppdet.modeling.backbones import LCNet
    from ppdet.modeling.heads import PicoFeat, PicoHeadV2
    from ppdet.modeling.layers import MultiClassNMS
    from ppdet.modeling.losses.gfocal_loss import DistributionFocalLoss
    from ppdet.modeling.losses.iou_loss import GIoULoss
    from ppdet.modeling.losses.varifocal_loss import VarifocalLoss
    from ppdet.modeling.necks import LCPAN

    bb = LCNet(scale=0.75, feature_maps=[3, 4, 5])
    # A fresh spatial_scales list: LCPAN appends to its mutable default one (paddledet 2.6.0 lc_pan.py:77), so
    # without it every PicoDet built after the first in a process gets one more level than its inputs.
    neck = LCPAN(in_channels=_channels(bb), out_channels=96, use_depthwise=True, num_features=4,
                 spatial_scales=[0.125, 0.0625, 0.03125])
    head = PicoHeadV2(
        conv_feat=PicoFeat(feat_in=96, feat_out=96, num_convs=2, num_fpn_stride=4, norm_type="bn",
                           share_cls_reg=True, use_se=True),
        num_classes=num_classes, fpn_stride=[8, 16, 32, 64], feat_in_chan=96, prior_prob=0.01, reg_max=7,
        cell_offset=0.5, grid_cell_scale=5.0, static_assigner_epoch=100, use_align_head=True,
        static_assigner=ATSSAssigner(topk=9, num_classes=num_classes, force_gt_matching=False),
        assigner=TaskAlignedAssigner(topk=13, alpha=1.0, beta=6.0),
        loss_class=VarifocalLoss(use_sigmoid=False, iou_weighted=True, loss_weight=1.0),
        loss_dfl=DistributionFocalLoss(loss_weight=0.5), loss_bbox=GIoULoss(loss_weight=2.5),
        nms=MultiClassNMS(nms_top_k=1000, keep_top_k=100, score_threshold=0.025, nms_threshold=0.6))
    return PicoDet(backbone=bb, neck=neck, head=head)


def rcnn_sampling(params: dict[str, Any] | None) -> tuple[int, int]:
    """(RoIs sampled per image for the box loss, proposals kept per image at test time) for `image_shape`.

    paddledet's 512 and 1000 are for 800 x 1333 inputs; smaller inputs hold fewer objects and
    anchors, so both scale with the input's area, floored at 128 and 300 (the box head's fully
    connected layers cost in proportion to them: 4x less at 192 px).
    """
    width, height = augment.image_shape(params or {}, (1333, 800))
    ratio = min(1.0, width * height / (1333 * 800))
    return max(128, round(512 * ratio)), max(300, round(1000 * ratio))


def _rcnn(num_classes: int, backbone: str, with_mask: bool, params: dict[str, Any] | None = None) -> Any:
    """Faster R-CNN (or Mask R-CNN with `with_mask`) with an FPN on a ResNet."""
    from ppdet.modeling.architectures import FasterRCNN, MaskRCNN
    from ppdet.modeling.heads import BBoxHead, MaskFeat, MaskHead, TwoFCHead
    from ppdet.modeling.heads.roi_extractor import RoIAlign
    from ppdet.modeling.layers import MultiClassNMS, RCNNBox
    from ppdet.modeling.necks import FPN
    from ppdet.modeling.post_process import BBoxPostProcess, MaskPostProcess
    from ppdet.modeling.proposal_generator.anchor_generator import AnchorGenerator
    from ppdet.modeling.proposal_generator.proposal_generator import ProposalGenerator
    from ppdet.modeling.proposal_generator.rpn_head import RPNHead
    from ppdet.modeling.proposal_generator.target_layer import BBoxAssigner, MaskAssigner, RPNTargetAssign

    rois_per_image, test_proposals = rcnn_sampling(params)
    bb = _resnet(int(backbone[len("ResNet"):]), norm_type="bn", return_idx=[0, 1, 2, 3], num_stages=4)
    neck = FPN(in_channels=_channels(bb), out_channel=256, spatial_scales=[1.0 / s.stride for s in bb.out_shape])
    scales = [1.0 / s.stride for s in neck.out_shape]  # 5 levels, strides 4..64
    rpn = RPNHead(
        anchor_generator=AnchorGenerator(anchor_sizes=[[32], [64], [128], [256], [512]],
                                         aspect_ratios=[0.5, 1.0, 2.0], strides=[4.0, 8.0, 16.0, 32.0, 64.0]),
        rpn_target_assign=RPNTargetAssign(batch_size_per_im=256, fg_fraction=0.5, negative_overlap=0.3,
                                          positive_overlap=0.7, use_random=True),
        train_proposal=ProposalGenerator(min_size=0.0, nms_thresh=0.7, pre_nms_top_n=2000, post_nms_top_n=1000,
                                         topk_after_collect=True),
        test_proposal=ProposalGenerator(min_size=0.0, nms_thresh=0.7, pre_nms_top_n=1000, post_nms_top_n=test_proposals),
        in_channel=256)
    bbox_head = BBoxHead(
        head=TwoFCHead(in_channel=256, out_channel=1024, resolution=7), in_channel=1024,
        roi_extractor=RoIAlign(resolution=7, sampling_ratio=0, aligned=True, spatial_scale=scales),
        bbox_assigner=BBoxAssigner(batch_size_per_im=rois_per_image, bg_thresh=0.5, fg_thresh=0.5, fg_fraction=0.25,
                                   use_random=True, num_classes=num_classes),
        num_classes=num_classes)
    post = BBoxPostProcess(num_classes=num_classes, decode=RCNNBox(num_classes=num_classes),
                           nms=MultiClassNMS(keep_top_k=100, score_threshold=0.05, nms_threshold=0.5))
    if not with_mask:
        return FasterRCNN(backbone=bb, rpn_head=rpn, bbox_head=bbox_head, bbox_post_process=post, neck=neck)
    mask_head = MaskHead(
        head=MaskFeat(in_channel=256, out_channel=256, num_convs=4),
        roi_extractor=RoIAlign(resolution=14, sampling_ratio=0, aligned=True, spatial_scale=scales),
        mask_assigner=MaskAssigner(num_classes=num_classes, mask_resolution=28),
        num_classes=num_classes, share_bbox_feat=False)
    return MaskRCNN(backbone=bb, rpn_head=rpn, bbox_head=bbox_head, mask_head=mask_head, bbox_post_process=post,
                    mask_post_process=MaskPostProcess(binary_thresh=0.5), neck=neck)


# (num_classes, backbone, params) -> a fresh paddle.nn.Layer; call build() instead to get the shims applied.
BUILDERS: dict[str, Callable[..., Any]] = {
    "YOLOv3": _yolov3,
    "PPYOLO": _ppyolo,
    "PPYOLOTiny": _ppyolo_tiny,
    "PicoDet": _picodet,
    "FasterRCNN": lambda num_classes, backbone, params=None: _rcnn(num_classes, backbone, False, params),
    "MaskRCNN": lambda num_classes, backbone, params=None: _rcnn(num_classes, backbone, True, params),
}


def resolve(model: str, backbone: str | None = None) -> tuple[str, str]:
    """The canonical (model, backbone) names (matched case-insensitively; EngineError if unsupported)."""
    name = {m.lower(): m for m in MODELS}.get(str(model).lower())
    if name is None:
        raise EngineError(f"model {model!r} is not supported for detection or instance segmentation; "
                          f"one of: {', '.join(MODELS)}")
    choices = BACKBONES[name]
    if backbone is None or backbone == "":
        return name, choices[0]
    found = {b.lower(): b for b in choices}.get(str(backbone).lower())
    if found is None:
        raise EngineError(f"backbone {backbone!r} is not supported for {name}; one of: {', '.join(choices)}")
    return name, found


def build(model: str, num_classes: int, backbone: str | None = None, params: dict[str, Any] | None = None) -> Any:
    """A fresh paddle.nn.Layer for `model` on `backbone`; R-CNN sampling follows `params`' image_shape."""
    name, bb = resolve(model, backbone)
    if num_classes < 1:
        raise EngineError(f"cannot build {name} for {num_classes} classes")
    apply_detection_shims()
    return BUILDERS[name](num_classes, bb, params)


def _tensor(array: Any) -> Any:
    """A paddle tensor of a numpy array."""
    import paddle

    return paddle.to_tensor(array)


def eval_inputs(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The eval-mode inputs of every family: image, im_shape (image h, w) and scale_factor."""
    images = np.stack([np.asarray(s["image"], np.float32) for s in samples])
    shape = np.tile(np.array(images.shape[2:], np.float32), (len(samples), 1))
    scale = np.stack([np.asarray(s.get("scale_factor", (1.0, 1.0)), np.float32) for s in samples])
    return {"image": _tensor(images), "im_shape": _tensor(shape), "scale_factor": _tensor(scale)}


def input_spec(model: str) -> list[dict[str, Any]]:
    """The paddle.jit.to_static input spec of `model` (PicoDet's graph does not read im_shape, so it is left out)."""
    from paddle.static import InputSpec

    shapes = {"image": [None, 3, -1, -1], "im_shape": [None, 2], "scale_factor": [None, 2]}
    if resolve(model)[0] == "PicoDet":
        del shapes["im_shape"]
    return [{k: InputSpec(shape, "float32", k) for k, shape in shapes.items()}]


def _boxes(sample: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(gt_bbox float32 [n, 4], gt_class int64 [n]) of one sample."""
    return (np.asarray(sample["gt_bbox"], np.float32).reshape(-1, 4),
            np.asarray(sample["gt_class"], np.int64).reshape(-1))


def _yolo_targets(samples: Sequence[dict[str, Any]], anchors: list[list[int]], num_classes: int) -> dict[str, Any]:
    """YOLO losses' inputs: padded normalised cx, cy, w, h boxes and paddledet's Gt2YoloTarget targets."""
    from ppdet.data.transform.batch_operators import Gt2YoloTarget

    rows = []
    for s in samples:
        h, w = np.asarray(s["image"]).shape[1:]
        box, cls = _boxes(s)
        box = box[:YOLO_MAX_BOXES] / np.array([w, h, w, h], np.float32)
        n = len(box)
        padded = np.zeros((YOLO_MAX_BOXES, 4), np.float32)
        padded[:n] = np.concatenate([(box[:, :2] + box[:, 2:]) / 2, box[:, 2:] - box[:, :2]], 1)
        classes = np.zeros((YOLO_MAX_BOXES,), np.int32)
        classes[:n] = cls[:n]
        score = np.zeros((YOLO_MAX_BOXES, 1), np.float32)
        score[:n, 0] = np.asarray(s.get("gt_score", np.ones(n)), np.float32).reshape(-1)[:n]
        rows.append({"image": s["image"], "gt_bbox": padded, "gt_class": classes, "gt_score": score})
    rows = Gt2YoloTarget(anchors=anchors, anchor_masks=ANCHOR_MASKS, downsample_ratios=[32, 16, 8],
                         num_classes=num_classes)(rows)
    keys = ["gt_bbox"] + [f"target{i}" for i in range(len(ANCHOR_MASKS))]
    return {k: _tensor(np.stack([r[k] for r in rows])) for k in keys}


def _padded_gt(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """PicoDet's inputs (paddledet's PadGT): boxes [B, M, 4] px, int64 classes [B, M, 1] and a pad mask."""
    pairs = [_boxes(s) for s in samples]
    m = max(1, max(len(b) for b, _ in pairs))
    box = np.zeros((len(samples), m, 4), np.float32)
    cls = np.zeros((len(samples), m, 1), np.int64)
    mask = np.zeros((len(samples), m, 1), np.float32)
    for i, (b, c) in enumerate(pairs):
        box[i, :len(b)], cls[i, :len(b), 0], mask[i, :len(b)] = b, c, 1.0
    return {"gt_bbox": _tensor(box), "gt_class": _tensor(cls), "pad_gt_mask": _tensor(mask)}


def _rcnn_gt(samples: Sequence[dict[str, Any]], with_poly: bool) -> dict[str, Any]:
    """R-CNN inputs: per-image lists of boxes, int32 [n, 1] classes and is_crowd (and polygons)."""
    pairs = [_boxes(s) for s in samples]
    out: dict[str, Any] = {
        "gt_bbox": [_tensor(b) for b, _ in pairs],
        "gt_class": [_tensor(c.astype(np.int32).reshape(-1, 1)) for _, c in pairs],
        "is_crowd": [_tensor(np.zeros((len(c), 1), np.int32)) for _, c in pairs],
    }
    if with_poly:
        out["gt_poly"] = [[[np.asarray(p, np.float32).reshape(-1) for p in polys] for polys in s["gt_poly"]]
                          for s in samples]
    return out


def train_inputs(model: str, samples: Sequence[dict[str, Any]], num_classes: int, epoch: int = 0) -> dict[str, Any]:
    """The train-mode inputs dict of `model` for one batch of samples (see the module docstring)."""
    name = resolve(model)[0]
    inputs = eval_inputs(samples)
    inputs["im_id"] = _tensor(np.arange(len(samples), dtype=np.int64).reshape(-1, 1))
    if name in YOLO_FAMILY:
        anchors = TINY_ANCHORS if name == "PPYOLOTiny" else YOLO_ANCHORS
        inputs.update(_yolo_targets(samples, anchors, num_classes))
    elif name == "PicoDet":
        inputs.update(_padded_gt(samples), epoch_id=int(epoch))
    else:
        inputs.update(_rcnn_gt(samples, with_poly=name == "MaskRCNN"))
    return inputs
