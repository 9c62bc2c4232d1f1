"""Shared helpers for the detection probe: data loading, batching, timing."""
import os, json, time
import numpy as np, cv2

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_samples(root='/tmp/det_probe/ins', size=320):
    """COCO (with polygons) -> list of per-image dicts, resized to size x size.
    gt_bbox: [n,4] float32 xyxy in resized pixels; gt_class [n,1] int32 (0-based);
    gt_poly: list[list[np.ndarray]] resized; gt_segm: [n,H,W] uint8."""
    d = json.load(open(os.path.join(root, 'annotations.json')))
    cats = sorted(c['id'] for c in d['categories'])
    cid = {c: i for i, c in enumerate(cats)}
    by_img = {}
    for a in d['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    out = []
    for im in d['images']:
        img = cv2.imread(os.path.join(root, 'JPEGImages', im['file_name']))[:, :, ::-1]
        h, w = img.shape[:2]
        sy, sx = size / h, size / w
        img = cv2.resize(img, (size, size)).astype(np.float32) / 255.
        img = ((img - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)
        boxes, cls, polys, segm = [], [], [], []
        for a in by_img.get(im['id'], []):
            x, y, bw, bh = a['bbox']
            boxes.append([x * sx, y * sy, (x + bw) * sx, (y + bh) * sy])
            cls.append([cid[a['category_id']]])
            pp = []
            for p in a['segmentation']:
                p = np.asarray(p, np.float32).copy()
                p[0::2] *= sx; p[1::2] *= sy
                pp.append(p)
            polys.append(pp)
            m = np.zeros((size, size), np.uint8)
            for p in pp:
                cv2.fillPoly(m, [p.reshape(-1, 2).round().astype(np.int32)], 1)
            segm.append(m)
        out.append(dict(
            image=img, im_id=np.array([im['id']], np.int64),
            im_shape=np.array([size, size], np.float32),
            scale_factor=np.array([sy, sx], np.float32),
            gt_bbox=np.array(boxes, np.float32).reshape(-1, 4),
            gt_class=np.array(cls, np.int32).reshape(-1, 1),
            is_crowd=np.zeros((len(cls), 1), np.int32),
            gt_poly=polys, gt_segm=np.array(segm, np.uint8).reshape(-1, size, size)))
    return out


def T(x, dtype=None):
    import paddle
    return paddle.to_tensor(x, dtype=dtype)


def batch_common(samples):
    return {k: T(np.stack([s[k] for s in samples])) for k in ('image', 'im_shape', 'scale_factor', 'im_id')}


def batch_rcnn(samples, with_poly=False):
    """R-CNN family: gt_* are Python lists (one tensor per image), as collate_batch=False gives."""
    b = batch_common(samples)
    b['gt_bbox'] = [T(s['gt_bbox']) for s in samples]
    b['gt_class'] = [T(s['gt_class']) for s in samples]
    b['is_crowd'] = [T(s['is_crowd']) for s in samples]
    if with_poly:
        b['gt_poly'] = [s['gt_poly'] for s in samples]   # plain list of list of np arrays
    return b


def batch_yolo(samples, anchors, anchor_masks, downsample=(32, 16, 8), num_classes=3, num_max=50):
    """YOLOv3 family: NormalizeBox + PadBox(50) + BboxXYXY2XYWH + Gt2YoloTarget, as paddledet's reader."""
    from ppdet.data.transform.batch_operators import Gt2YoloTarget
    ss = []
    for s in samples:
        h, w = s['image'].shape[1:]
        bb = s['gt_bbox'].copy()
        bb[:, 0::2] /= w; bb[:, 1::2] /= h
        xywh = np.concatenate([(bb[:, :2] + bb[:, 2:]) / 2, bb[:, 2:] - bb[:, :2]], 1)
        n = min(len(bb), num_max)
        pb = np.zeros((num_max, 4), np.float32); pb[:n] = xywh[:n]
        pc = np.zeros((num_max,), np.int32); pc[:n] = s['gt_class'][:n, 0]
        ps = np.zeros((num_max, 1), np.float32); ps[:n] = 1
        ss.append(dict(image=s['image'], gt_bbox=pb, gt_class=pc, gt_score=ps))
    ss = Gt2YoloTarget(anchors=anchors, anchor_masks=anchor_masks,
                       downsample_ratios=list(downsample), num_classes=num_classes)(ss)
    b = batch_common(samples)
    for k in ['gt_bbox', 'gt_class', 'gt_score'] + ['target%d' % i for i in range(len(anchor_masks))]:
        if k in ss[0]:   # Gt2YoloTarget pops gt_class/gt_score; the loss only needs gt_bbox + targets
            b[k] = T(np.stack([s[k] for s in ss]))
    return b


def batch_padgt(samples, num_max=None):
    """PicoDet/PP-YOLOE family: PadGT -> gt_bbox [B,M,4] xyxy px, gt_class [B,M,1] int32, pad_gt_mask [B,M,1]."""
    m = num_max or max(len(s['gt_bbox']) for s in samples)
    b = batch_common(samples)
    gb = np.zeros((len(samples), m, 4), np.float32)
    gc = np.zeros((len(samples), m, 1), os.environ.get('PROBE_GTCLASS_DTYPE', 'int32'))
    pm = np.zeros((len(samples), m, 1), np.float32)
    for i, s in enumerate(samples):
        n = len(s['gt_bbox'])
        gb[i, :n] = s['gt_bbox']; gc[i, :n] = s['gt_class']; pm[i, :n] = 1
    b.update(gt_bbox=T(gb), gt_class=T(gc), pad_gt_mask=T(pm), epoch_id=0)
    return b


def batch_solov2(samples, num_grids=(40, 36, 24, 16, 12),
                 scale_ranges=((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)), sampling_ratio=4.0):
    from ppdet.data.transform.batch_operators import Gt2Solov2Target
    ss = [dict(image=s['image'], gt_bbox=s['gt_bbox'].copy(), gt_class=s['gt_class'][:, 0].copy(),
               gt_segm=s['gt_segm'].copy(), is_crowd=s['is_crowd'], gt_poly=s['gt_poly']) for s in samples]
    ss = Gt2Solov2Target(num_grids=list(num_grids), scale_ranges=[list(r) for r in scale_ranges],
                         coord_sigma=0.2, sampling_ratio=sampling_ratio)(ss)
    b = batch_common(samples)
    for k in ss[0]:
        if k in ('image',) or k.startswith('gt_'):
            continue
        b[k] = T(np.stack([s[k] for s in ss]))
    return b
