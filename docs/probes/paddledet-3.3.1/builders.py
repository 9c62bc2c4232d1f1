"""Build paddledet 2.6.0 models directly from ppdet.modeling classes (no YAML, no workspace.create).
Each builder returns (model, batch_fn) where batch_fn(list_of_samples) -> inputs dict for training."""
import functools
from ppdet.modeling.architectures import YOLOv3, PicoDet, FasterRCNN, MaskRCNN, SOLOv2
from ppdet.modeling.backbones import MobileNet, MobileNetV3, DarkNet, ResNet, LCNet
from ppdet.modeling.necks import YOLOv3FPN, PPYOLOFPN, PPYOLOTinyFPN, LCPAN, FPN
from ppdet.modeling.heads import (YOLOv3Head, PicoHeadV2, PicoFeat, BBoxHead, TwoFCHead,
                                  MaskHead, MaskFeat, SOLOv2Head)
from ppdet.modeling.heads.solov2_head import SOLOv2MaskHead
from ppdet.modeling.heads.roi_extractor import RoIAlign
from ppdet.modeling.losses.yolo_loss import YOLOv3Loss
from ppdet.modeling.losses.iou_loss import IouLoss, GIoULoss
from ppdet.modeling.losses.varifocal_loss import VarifocalLoss
from ppdet.modeling.losses.gfocal_loss import DistributionFocalLoss
from ppdet.modeling.losses.solov2_loss import SOLOv2Loss
from ppdet.modeling.assigners.atss_assigner import ATSSAssigner
from ppdet.modeling.assigners.task_aligned_assigner import TaskAlignedAssigner
from ppdet.modeling.post_process import BBoxPostProcess, MaskPostProcess
from ppdet.modeling.layers import YOLOBox, MultiClassNMS, MatrixNMS, RCNNBox, MaskMatrixNMS
from ppdet.modeling.proposal_generator.rpn_head import RPNHead
from ppdet.modeling.proposal_generator.anchor_generator import AnchorGenerator
from ppdet.modeling.proposal_generator.target_layer import RPNTargetAssign, BBoxAssigner, MaskAssigner
from ppdet.modeling.proposal_generator.proposal_generator import ProposalGenerator
import common

YOLO_ANCHORS = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198], [373, 326]]
TINY_ANCHORS = [[10, 15], [24, 36], [72, 42], [35, 87], [102, 96], [60, 170], [220, 125], [128, 222], [264, 266]]
MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]


# ---------------------------------------------------------------- YOLOv3 family
def build_yolov3(num_classes, backbone='MobileNetV1'):
    if backbone == 'MobileNetV1':
        bb = MobileNet(scale=1, feature_maps=[4, 6, 13], with_extra_blocks=False, extra_block_filters=[])
    elif backbone == 'MobileNetV3':
        bb = MobileNetV3(model_name='large', scale=1., feature_maps=[7, 13, 16],
                         with_extra_blocks=False, extra_block_filters=[])
    elif backbone == 'DarkNet53':
        bb = DarkNet(depth=53, return_idx=[2, 3, 4])
    elif backbone == 'ResNet34':
        bb = ResNet(depth=34, return_idx=[1, 2, 3], freeze_at=-1, freeze_norm=False, norm_decay=0.)
    else:
        raise ValueError(backbone)
    neck = YOLOv3FPN(in_channels=[s.channels for s in bb.out_shape])
    head = YOLOv3Head(in_channels=[s.channels for s in neck.out_shape], anchors=YOLO_ANCHORS,
                      anchor_masks=MASKS, num_classes=num_classes,
                      loss=YOLOv3Loss(num_classes=num_classes, ignore_thresh=0.7,
                                      downsample=[32, 16, 8], label_smooth=False))
    post = BBoxPostProcess(num_classes=num_classes,
                           decode=YOLOBox(num_classes=num_classes, conf_thresh=0.005,
                                          downsample_ratio=32, clip_bbox=True),
                           nms=MultiClassNMS(score_threshold=0.01, nms_top_k=1000, keep_top_k=100,
                                             nms_threshold=0.45))
    model = YOLOv3(backbone=bb, neck=neck, yolo_head=head, post_process=post)
    return model, functools.partial(common.batch_yolo, anchors=YOLO_ANCHORS, anchor_masks=MASKS,
                                    num_classes=num_classes)


def build_ppyolo_tiny(num_classes):
    bb = MobileNetV3(model_name='large', scale=.5, with_extra_blocks=False, extra_block_filters=[],
                     feature_maps=[7, 13, 16])
    neck = PPYOLOTinyFPN(in_channels=[s.channels for s in bb.out_shape],
                         detection_block_channels=[160, 128, 96], spp=True, drop_block=True)
    head = YOLOv3Head(in_channels=[s.channels for s in neck.out_shape], anchors=TINY_ANCHORS,
                      anchor_masks=MASKS, num_classes=num_classes,
                      loss=YOLOv3Loss(num_classes=num_classes, ignore_thresh=0.5, downsample=[32, 16, 8],
                                      label_smooth=False, scale_x_y=1.05,
                                      iou_loss=IouLoss(loss_weight=2.5, loss_square=True)))
    post = BBoxPostProcess(num_classes=num_classes,
                           decode=YOLOBox(num_classes=num_classes, conf_thresh=0.005, downsample_ratio=32,
                                          clip_bbox=True, scale_x_y=1.05),
                           nms=MatrixNMS(keep_top_k=100, score_threshold=0.01, post_threshold=0.01,
                                         nms_top_k=-1, background_label=-1))
    model = YOLOv3(backbone=bb, neck=neck, yolo_head=head, post_process=post)
    return model, functools.partial(common.batch_yolo, anchors=TINY_ANCHORS, anchor_masks=MASKS,
                                    num_classes=num_classes)


def build_ppyolo(num_classes):
    bb = ResNet(depth=50, variant='d', return_idx=[1, 2, 3], dcn_v2_stages=[3], freeze_at=-1,
                freeze_norm=False, norm_decay=0.)
    neck = PPYOLOFPN(in_channels=[s.channels for s in bb.out_shape], coord_conv=True, drop_block=True,
                     block_size=3, keep_prob=0.9, spp=True)
    head = YOLOv3Head(in_channels=[s.channels for s in neck.out_shape], anchors=YOLO_ANCHORS,
                      anchor_masks=MASKS, num_classes=num_classes,
                      loss=YOLOv3Loss(num_classes=num_classes, ignore_thresh=0.7, downsample=[32, 16, 8],
                                      label_smooth=False, scale_x_y=1.05,
                                      iou_loss=IouLoss(loss_weight=2.5, loss_square=True)))
    post = BBoxPostProcess(num_classes=num_classes,
                           decode=YOLOBox(num_classes=num_classes, conf_thresh=0.01, downsample_ratio=32,
                                          clip_bbox=True, scale_x_y=1.05),
                           nms=MatrixNMS(keep_top_k=100, score_threshold=0.01, post_threshold=0.01,
                                         nms_top_k=-1, background_label=-1))
    model = YOLOv3(backbone=bb, neck=neck, yolo_head=head, post_process=post)
    return model, functools.partial(common.batch_yolo, anchors=YOLO_ANCHORS, anchor_masks=MASKS,
                                    num_classes=num_classes)


# ---------------------------------------------------------------- PicoDet (s, LCNet, v2 head)
def build_picodet(num_classes, size=None):
    bb = LCNet(scale=0.75, feature_maps=[3, 4, 5])
    neck = LCPAN(in_channels=[s.channels for s in bb.out_shape], out_channels=96,
                 use_depthwise=True, num_features=4)
    head = PicoHeadV2(
        conv_feat=PicoFeat(feat_in=96, feat_out=96, num_convs=2, num_fpn_stride=4, norm_type='bn',
                           share_cls_reg=True, use_se=True),
        num_classes=num_classes, fpn_stride=[8, 16, 32, 64], feat_in_chan=96, prior_prob=0.01,
        reg_max=7, cell_offset=0.5, grid_cell_scale=5.0, static_assigner_epoch=100, use_align_head=True,
        static_assigner=ATSSAssigner(topk=9, num_classes=num_classes, force_gt_matching=False),
        assigner=TaskAlignedAssigner(topk=13, alpha=1.0, beta=6.0),
        loss_class=VarifocalLoss(use_sigmoid=False, iou_weighted=True, loss_weight=1.0),
        loss_dfl=DistributionFocalLoss(loss_weight=0.5),
        loss_bbox=GIoULoss(loss_weight=2.5),
        nms=MultiClassNMS(nms_top_k=1000, keep_top_k=100, score_threshold=0.025, nms_threshold=0.6),
        eval_size=[size, size] if size else None)
    model = PicoDet(backbone=bb, neck=neck, head=head)
    return model, common.batch_padgt


# ---------------------------------------------------------------- R-CNN family (FPN)
def _rcnn_parts(num_classes, depth):
    # from scratch: the config values freeze_at=0 / freeze_norm=True assume ImageNet weights; with random
    # init they make activations explode (loss 56 -> NaN at iter 2). Train all stages with live BN instead.
    bb = ResNet(depth=depth, norm_type='bn', freeze_at=-1, freeze_norm=False, return_idx=[0, 1, 2, 3], num_stages=4)
    neck = FPN(in_channels=[s.channels for s in bb.out_shape], out_channel=256,
               spatial_scales=[1. / s.stride for s in bb.out_shape])
    fshape = neck.out_shape                                  # 5 levels, strides 4..64
    rpn = RPNHead(
        anchor_generator=AnchorGenerator(anchor_sizes=[[32], [64], [128], [256], [512]],
                                         aspect_ratios=[0.5, 1.0, 2.0], strides=[4., 8., 16., 32., 64.]),
        rpn_target_assign=RPNTargetAssign(batch_size_per_im=256, fg_fraction=0.5, negative_overlap=0.3,
                                          positive_overlap=0.7, use_random=True),
        train_proposal=ProposalGenerator(min_size=0.0, nms_thresh=0.7, pre_nms_top_n=2000,
                                         post_nms_top_n=1000, topk_after_collect=True),
        test_proposal=ProposalGenerator(min_size=0.0, nms_thresh=0.7, pre_nms_top_n=1000,
                                        post_nms_top_n=1000),
        in_channel=fshape[0].channels)
    scales = [1. / s.stride for s in fshape]
    bbox_head = BBoxHead(
        head=TwoFCHead(in_channel=fshape[0].channels, out_channel=1024, resolution=7),
        in_channel=1024,
        roi_extractor=RoIAlign(resolution=7, sampling_ratio=0, aligned=True, spatial_scale=scales),
        bbox_assigner=BBoxAssigner(batch_size_per_im=512, bg_thresh=0.5, fg_thresh=0.5, fg_fraction=0.25,
                                   use_random=True, num_classes=num_classes),
        num_classes=num_classes)
    post = BBoxPostProcess(num_classes=num_classes, decode=RCNNBox(num_classes=num_classes),
                           nms=MultiClassNMS(keep_top_k=100, score_threshold=0.05, nms_threshold=0.5))
    return bb, neck, rpn, bbox_head, post, scales


def build_faster_rcnn(num_classes, depth=50):
    bb, neck, rpn, bbox_head, post, _ = _rcnn_parts(num_classes, depth)
    model = FasterRCNN(backbone=bb, rpn_head=rpn, bbox_head=bbox_head, bbox_post_process=post, neck=neck)
    return model, common.batch_rcnn


def build_mask_rcnn(num_classes, depth=50):
    bb, neck, rpn, bbox_head, post, scales = _rcnn_parts(num_classes, depth)
    mask_head = MaskHead(
        head=MaskFeat(in_channel=256, out_channel=256, num_convs=4),
        roi_extractor=RoIAlign(resolution=14, sampling_ratio=0, aligned=True, spatial_scale=scales),
        mask_assigner=MaskAssigner(num_classes=num_classes, mask_resolution=28),
        num_classes=num_classes, share_bbox_feat=False)
    model = MaskRCNN(backbone=bb, rpn_head=rpn, bbox_head=bbox_head, mask_head=mask_head,
                     bbox_post_process=post, mask_post_process=MaskPostProcess(binary_thresh=0.5), neck=neck)
    return model, functools.partial(common.batch_rcnn, with_poly=True)


# ---------------------------------------------------------------- SOLOv2 (R50-FPN)
def build_solov2(num_classes, depth=50):
    bb = ResNet(depth=depth, norm_type='bn', freeze_at=-1, freeze_norm=False, return_idx=[0, 1, 2, 3], num_stages=4)
    neck = FPN(in_channels=[s.channels for s in bb.out_shape], out_channel=256,
               spatial_scales=[1. / s.stride for s in bb.out_shape])
    head = SOLOv2Head(num_classes=num_classes, in_channels=256, seg_feat_channels=512, stacked_convs=4,
                      num_grids=[40, 36, 24, 16, 12], kernel_out_channels=256,
                      solov2_loss=SOLOv2Loss(ins_loss_weight=3.0, focal_loss_gamma=2.0, focal_loss_alpha=0.25),
                      mask_nms=MaskMatrixNMS(pre_nms_top_n=500, post_nms_top_n=100))
    mask_head = SOLOv2MaskHead(in_channels=256, mid_channels=128, out_channels=256, start_level=0, end_level=3)
    model = SOLOv2(backbone=bb, solov2_head=head, mask_head=mask_head, neck=neck)
    return model, common.batch_solov2


BUILDERS = {
    'yolov3_mobilenetv1': lambda n, s: build_yolov3(n, 'MobileNetV1'),
    'yolov3_mobilenetv3': lambda n, s: build_yolov3(n, 'MobileNetV3'),
    'yolov3_darknet53': lambda n, s: build_yolov3(n, 'DarkNet53'),
    'yolov3_resnet34': lambda n, s: build_yolov3(n, 'ResNet34'),
    'ppyolo_tiny': lambda n, s: build_ppyolo_tiny(n),
    'ppyolo_r50vd': lambda n, s: build_ppyolo(n),
    'picodet_s': lambda n, s: build_picodet(n, s),
    'faster_rcnn_r50_fpn': lambda n, s: build_faster_rcnn(n, 50),
    'faster_rcnn_r34_fpn': lambda n, s: build_faster_rcnn(n, 34),
    'faster_rcnn_r18_fpn': lambda n, s: build_faster_rcnn(n, 18),
    'mask_rcnn_r50_fpn': lambda n, s: build_mask_rcnn(n, 50),
    'solov2_r50_fpn': lambda n, s: build_solov2(n, 50),
}
