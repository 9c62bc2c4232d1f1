"""Calling-side shims for paddledet 2.6.0 on paddle 3.x. Enable by name via env PROBE_SHIMS=a,b."""
import os
import paddle

_orig_concat = paddle.concat
_sites = set()


def concat0d(x, axis=0, name=None):
    """paddle.concat of a list made only of 0-D tensors: reshape each to [1] first (paddle<2.5 semantics)."""
    if isinstance(x, (list, tuple)) and len(x) > 0 and all(
            isinstance(t, (paddle.Tensor, paddle.pir.Value) if hasattr(paddle, 'pir') else paddle.Tensor)
            and len(t.shape) == 0 for t in x):
        x = [paddle.reshape(t, [1]) for t in x]
        if os.environ.get('PROBE_LOG_CONCAT'):
            import sys
            f = sys._getframe(1)
            site = '%s:%d' % (f.f_code.co_filename.split('site-packages/')[-1], f.f_lineno)
            if site not in _sites:
                _sites.add(site); print('CONCAT0D used at', site, flush=True)
    return _orig_concat(x, axis=axis, name=name)


concat0d.__module__ = _orig_concat.__module__   # 'paddle.tensor.manipulation': dy2static must not convert it
concat0d.__name__ = 'concat'


def apply(names=None):
    names = names if names is not None else [n for n in os.environ.get('PROBE_SHIMS', '').split(',') if n]
    applied = []
    for n in names:
        if n == 'concat0d':
            paddle.concat = concat0d
            applied.append(n)
        elif n == 'pir_nms':
            pir_nms(); applied.append(n)
        elif n == 'rois_num_1d':
            import rcnn_fix
            rcnn_fix.apply(); applied.append(n)
        elif n == 'atss_int':
            import pico_fix
            pico_fix.apply(); applied.append(n)
        else:
            raise ValueError(n)
    return applied


def pir_nms():
    """ppdet.modeling.ops.multiclass_nms / matrix_nms build legacy-IR ops via LayerHelper whenever not in
    dynamic mode, which breaks paddle.jit.to_static under PIR (paddle 3 default). Route them to the
    PIR-capable _C_ops / paddle.vision.ops calls (identical kernels)."""
    from paddle import _C_ops
    from ppdet.modeling import ops as pops

    def multiclass_nms(bboxes, scores, score_threshold, nms_top_k, keep_top_k, nms_threshold=0.3,
                       normalized=True, nms_eta=1., background_label=-1, return_index=False,
                       return_rois_num=True, rois_num=None, name=None):
        out, index, nms_rois_num = _C_ops.multiclass_nms3(
            bboxes, scores, rois_num, score_threshold, nms_top_k, keep_top_k, nms_threshold,
            normalized, nms_eta, background_label)
        return out, (nms_rois_num if return_rois_num else None), (index if return_index else None)

    def matrix_nms(bboxes, scores, score_threshold, post_threshold, nms_top_k, keep_top_k,
                   use_gaussian=False, gaussian_sigma=2., background_label=0, normalized=True,
                   return_index=False, return_rois_num=True, name=None):
        return paddle.vision.ops.matrix_nms(
            bboxes, scores, score_threshold, post_threshold, nms_top_k, keep_top_k,
            use_gaussian=use_gaussian, gaussian_sigma=gaussian_sigma, background_label=background_label,
            normalized=normalized, return_index=return_index, return_rois_num=return_rois_num)

    pops.multiclass_nms = multiclass_nms
    pops.matrix_nms = paddle.jit.not_to_static(matrix_nms) if False else matrix_nms
