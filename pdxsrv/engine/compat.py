"""Calling-side shims that make paddledet 2.6.0 models train, evaluate and export on paddle 3.x.

Each shim patches paddledet module state, is idempotent, and names the library bug it works around.
Nothing is patched on import: `apply_detection_shims()` applies them all (det_models.build calls it).
"""

from __future__ import annotations

import importlib
import inspect
import linecache
import textwrap
from typing import Any, Callable

_MARK = "_pdxsrv_shim"
_PATCHED_SOURCES: dict[str, str] = {}  # linecache file name -> source of a recompiled paddledet function


def pir_nms() -> None:
    """Route paddledet's multiclass_nms / matrix_nms to PIR-capable calls of the same kernels."""
    # paddledet bug: ppdet.modeling.ops.multiclass_nms / matrix_nms build legacy-IR ops with
    # LayerHelper.append_op whenever not in dynamic mode, so paddle.jit.to_static under PIR (the paddle 3
    # default) fails with "The type of '%BBoxes' in operator multiclass_nms3 should be one of [str, bytes,
    # Variable]". MultiClassNMS / MatrixNMS reach them as `ops.<name>`, so replacing the module attributes
    # is enough; in dynamic mode the results are the same.
    import paddle
    from paddle import _C_ops
    from ppdet.modeling import ops

    if getattr(ops.multiclass_nms, _MARK, False) and getattr(ops.matrix_nms, _MARK, False):
        return

    def multiclass_nms(bboxes: Any, scores: Any, score_threshold: float, nms_top_k: int, keep_top_k: int,
                       nms_threshold: float = 0.3, normalized: bool = True, nms_eta: float = 1.0,
                       background_label: int = -1, return_index: bool = False, return_rois_num: bool = True,
                       rois_num: Any = None, name: str | None = None) -> tuple[Any, Any, Any]:
        """paddledet's multiclass_nms as one _C_ops.multiclass_nms3 call."""
        out, index, nms_rois_num = _C_ops.multiclass_nms3(
            bboxes, scores, rois_num, score_threshold, nms_top_k, keep_top_k, nms_threshold,
            normalized, nms_eta, background_label)
        return out, (nms_rois_num if return_rois_num else None), (index if return_index else None)

    def matrix_nms(bboxes: Any, scores: Any, score_threshold: float, post_threshold: float, nms_top_k: int,
                   keep_top_k: int, use_gaussian: bool = False, gaussian_sigma: float = 2.0,
                   background_label: int = 0, normalized: bool = True, return_index: bool = False,
                   return_rois_num: bool = True, name: str | None = None) -> Any:
        """paddledet's matrix_nms as paddle.vision.ops.matrix_nms."""
        return paddle.vision.ops.matrix_nms(
            bboxes, scores, score_threshold, post_threshold, nms_top_k, keep_top_k,
            use_gaussian=use_gaussian, gaussian_sigma=gaussian_sigma, background_label=background_label,
            normalized=normalized, return_index=return_index, return_rois_num=return_rois_num)

    for fn in (multiclass_nms, matrix_nms):
        setattr(fn, _MARK, True)
        setattr(ops, fn.__name__, fn)


# (module, function or Class.method, [(old, new), ...]): every 0-D `[0]` / `[i]` pick that is appended to a
# list and concatenated, rewritten to a one-element slice.
_ROIS_NUM_SITES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("ppdet.modeling.proposal_generator.rpn_head", "RPNHead._gen_proposal", (
        ("bs_rois_num_collect.append(paddle.shape(topk_rois)[0])",
         "bs_rois_num_collect.append(paddle.shape(topk_rois)[0:1])"),)),
    ("ppdet.modeling.proposal_generator.target", "generate_proposal_target", (
        ("new_rois_num.append(paddle.shape(sampled_inds)[0])",
         "new_rois_num.append(paddle.shape(sampled_inds)[0:1])"),)),
    ("ppdet.modeling.proposal_generator.target", "generate_mask_target", (
        ("mask_rois_num.append(paddle.shape(fg_rois)[0])",
         "mask_rois_num.append(paddle.shape(fg_rois)[0:1])"),)),
    ("ppdet.modeling.post_process", "BBoxPostProcess.get_pred", (
        ("bbox_num_i = bbox_num[i]\n", "bbox_num_i = bbox_num[i:i + 1]\n"),
        ("scale_y, scale_x = scale_factor[i][0], scale_factor[i][1]",
         "scale_y, scale_x = scale_factor[i][0:1], scale_factor[i][1:2]"))),
)
# Modules that imported a patched function by name (`from .target import ...`) and hold their own reference.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ppdet.modeling.proposal_generator.target": ("ppdet.modeling.proposal_generator.target_layer",),
}


def _recompile(modname: str, qualname: str, edits: tuple[tuple[str, str], ...]) -> None:
    """Replace one paddledet function/method by a copy compiled from its own source with `edits` applied."""
    module = importlib.import_module(modname)
    parts = qualname.split(".")
    owner: Any = module if len(parts) == 1 else getattr(module, parts[0])
    old_fn: Callable[..., Any] = getattr(owner, parts[-1])
    if getattr(old_fn, _MARK, False):
        return
    src = textwrap.dedent(inspect.getsource(old_fn))
    for old, new in edits:  # all edits of one function in one pass: getsource reads paddledet's file
        if old not in src:
            raise RuntimeError(f"unexpected paddledet source in {modname}.{qualname}: {old!r} not found")
        src = src.replace(old, new)
    # Keep paddledet's line numbers in tracebacks.
    src = "\n" * (inspect.getsourcelines(old_fn)[1] - 1) + src
    # Trap: dy2static (paddle.jit.to_static) re-reads a function's source with inspect.getsource. The copy
    # needs its own file name with the patched text in linecache, or the unpatched text gets converted.
    filename = f"<pdxsrv patched {modname}.{qualname}>"
    _PATCHED_SOURCES[filename] = src
    register_patched_sources()
    namespace: dict[str, Any] = {}
    exec(compile(src, filename, "exec"), module.__dict__, namespace)
    new_fn = namespace[parts[-1]]
    setattr(new_fn, _MARK, True)
    setattr(owner, parts[-1], new_fn)
    if len(parts) == 1:
        for alias in _ALIASES.get(modname, ()):
            alias_module = importlib.import_module(alias)
            if getattr(alias_module, parts[-1], None) is old_fn:
                setattr(alias_module, parts[-1], new_fn)


def register_patched_sources() -> None:
    """(Re-)enter the recompiled functions' sources into linecache (linecache.clearcache() drops them)."""
    for filename, src in _PATCHED_SOURCES.items():
        linecache.cache.setdefault(filename, (len(src), None, src.splitlines(True), filename))


def rois_num_1d() -> None:
    """Keep the R-CNN rois_num / bbox_num tensors 1-D where paddledet builds them from 0-D picks."""
    # paddledet bug: RPNHead, the proposal/mask target functions and BBoxPostProcess append
    # `paddle.shape(x)[0]` / `bbox_num[i]` (0-D since paddle 2.5) to lists and paddle.concat them. Eager:
    # "axis is expected to be in range of [0, 0)"; to_static: a 0-D rois_num that RCNNBox cannot index.
    # Each site is recompiled from paddledet's own source with a one-element slice instead.
    for modname, qualname, edits in _ROIS_NUM_SITES:
        _recompile(modname, qualname, edits)
    register_patched_sources()


def apply_detection_shims() -> None:
    """Apply every paddledet shim (idempotent)."""
    pir_nms()
    rois_num_1d()
