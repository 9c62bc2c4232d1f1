"""Export-time rewrites so that paddle.inference runs our programs with its defaults (oneDNN on, CPU).

paddle 3.3.1 stores some float attributes as doubles (`0.a_f64` in the program JSON), and its oneDNN
path cannot take two of them:

* `bilinear_interp` / `nearest_interp` (any `F.interpolate`): their `scale` attribute is an array of
  doubles, which oneDNN's instruction cannot convert ("ConvertPirAttribute2RuntimeAttribute not
  support [pir::ArrayAttribute<pir::DoubleAttribute>]" at `run()`), even when empty (size given);
* `leaky_relu`: its `negative_slope` is a double, which the `conv_activation_mkldnn_fuse_pass`
  reads as a float while the predictor is created: SIGSEGV in `pir::FloatAttribute::data()` (YOLOv3).

While `rewritten()` is active (tracing only), these functions are replaced by the same arithmetic
in ops oneDNN runs:

* interpolation to a size known at trace time (segmentation: fixed input size): `index_select` of the
  source rows/columns with constant indices and weights, computed as paddle's CPU kernel computes
  them (nearest: one pick; bilinear: the four corners weighted in the kernel's order). The sizes come
  from one eager pass on a zero input of the export size, recorded call by call, since the traced
  program only knows a size tensor;
* nearest by an integer factor on an input of dynamic size (detection necks): `repeat_interleave`;
* `leaky_relu(x, a)` with 0 <= a <= 1: `maximum(x, a * x)` (equal for every finite x).

Anything else is left to paddle's op; `blockers()` reads a saved program and names what oneDNN will
still refuse, and the export writes that into deploy.yml (`onednn`).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator, Sequence

import numpy as np
import paddle
import paddle.nn.functional as F

_PADDLE_MODULE = "paddle.nn.functional.common"  # dy2static leaves functions of paddle's modules unconverted
# Ops whose double attributes oneDNN's path was seen to run (paddle 3.3.1): constants and a non-oneDNN op.
SAFE_DOUBLE_OPS = frozenset({"full", "assign_value_", "assign_value", "full_like", "scale", "arange"})


def _ratio(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> np.float32:
    """The source step per output pixel, as paddle's interpolate kernel computes it (float)."""
    if n_out <= 1:
        return np.float32(0.0)
    if align_corners:
        return np.float32(n_in - 1) / np.float32(n_out - 1)
    return np.float32(1.0 / scale) if scale and scale > 0 else np.float32(n_in) / np.float32(n_out)


def nearest_index(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """Source index of each output pixel along one axis (paddle's NearestNeighborInterpolate)."""
    ratio = _ratio(n_in, n_out, scale, align_corners)
    k = np.arange(n_out, dtype=np.float32)
    src = ratio * k
    idx = (src.astype(np.float64) + 0.5).astype(np.int64) if align_corners else src.astype(np.int64)
    return np.minimum(idx, n_in - 1)


def bilinear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                     align_mode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(low index, high index, low weight, high weight) per output pixel (paddle's BilinearInterpolation)."""
    ratio = _ratio(n_in, n_out, scale, align_corners)
    align_flag = align_mode == 0 and not align_corners
    k = np.arange(n_out, dtype=np.float64)
    centred = (np.float64(ratio) * (k + 0.5) - 0.5)
    plain = (ratio * k.astype(np.float32)).astype(np.float32)
    low = (centred if align_flag else plain.astype(np.float64)).astype(np.int64)
    low = np.maximum(low, 0)
    high = np.where(low + 1 < n_in - 1, low + 1, n_in - 1)
    src = np.maximum(centred.astype(np.float32), np.float32(0))
    d_high = (src - low.astype(np.float32)) if align_flag else (plain - low.astype(np.float32))
    d_high = d_high.astype(np.float32)
    return low, high, (np.float32(1) - d_high).astype(np.float32), d_high


def _pick(x: Any, index: np.ndarray, axis: int) -> Any:
    return paddle.index_select(x, paddle.to_tensor(index.astype(np.int64)), axis=axis)


def resize_static(x: Any, in_hw: tuple[int, int], out_hw: tuple[int, int], scales: tuple[float, float] | None,
                  mode: str, align_corners: bool, align_mode: int) -> Any:
    """`F.interpolate` of an NCHW tensor from `in_hw` to `out_hw` as gathers and weighted sums."""
    (h, w), (oh, ow) = in_hw, out_hw
    sh, sw = scales if scales else (None, None)
    if (h, w) == (oh, ow):
        return x
    if mode == "nearest":
        return _pick(_pick(x, nearest_index(h, oh, sh, align_corners), 2), nearest_index(w, ow, sw, align_corners), 3)
    y_n, y_s, d_s, d_n = bilinear_weights(h, oh, sh, align_corners, align_mode)
    x_w, x_e, d_e, d_w = bilinear_weights(w, ow, sw, align_corners, align_mode)
    north, south = _pick(x, y_n, 2), _pick(x, y_s, 2)
    rows_s, rows_n = paddle.to_tensor(d_s.reshape(-1, 1)), paddle.to_tensor(d_n.reshape(-1, 1))
    cols_e, cols_w = paddle.to_tensor(d_e), paddle.to_tensor(d_w)
    # the kernel's sum: in(n,w)*d_s*d_e + in(s,w)*d_n*d_e + in(n,e)*d_s*d_w + in(s,e)*d_n*d_w
    return (_pick(north, x_w, 3) * rows_s * cols_e + _pick(south, x_w, 3) * rows_n * cols_e
            + _pick(north, x_e, 3) * rows_s * cols_w + _pick(south, x_e, 3) * rows_n * cols_w)


def _integer_factor(scale_factor: Any) -> int | None:
    """The common integer factor of a scale_factor (a number or two equal numbers), if it is exact in float."""
    values = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor]
    if not values or any(isinstance(v, (paddle.Tensor, paddle.pir.Value)) for v in values):
        return None
    values = [float(v) for v in values]
    if len(set(values)) != 1 or values[0] < 1 or values[0] != int(values[0]):
        return None
    factor = int(values[0])
    k = np.arange(1 << 14)  # nearest picks int(float32(1 / s) * k): must be k // s for outputs up to 16384 px
    return factor if np.array_equal((np.float32(1.0 / factor) * k.astype(np.float32)).astype(np.int64), k // factor) \
        else None


def _scales(scale_factor: Any) -> tuple[float, float] | None:
    if scale_factor is None:
        return None
    values = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * 2
    if any(isinstance(v, (paddle.Tensor, paddle.pir.Value)) for v in values):
        return None
    return float(values[0]), float(values[1])


class _Interpolate:
    """F.interpolate that records sizes (eager pass) or rewrites calls it can (trace)."""

    def __init__(self, real: Any) -> None:
        self.real, self.recorded, self.calls, self.recording = real, [], 0, True

    def __call__(self, x: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool = False, align_mode: int = 0, data_format: str | None = None,
                 recompute_scale_factor: bool | None = None, antialias: bool = False, name: str | None = None) -> Any:
        args = dict(size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners,
                    align_mode=align_mode, data_format=data_format, recompute_scale_factor=recompute_scale_factor,
                    antialias=antialias, name=name)
        mode = str(mode).lower()
        plain = (data_format in (None, "NCHW") and mode in ("nearest", "bilinear") and len(x.shape) == 4
                 and not antialias)
        if self.recording:
            out = self.real(x, **args)
            self.recorded.append((tuple(x.shape[2:]), tuple(out.shape[2:])) if plain else None)
            return out
        entry = self.recorded[self.calls % len(self.recorded)] if self.recorded else None
        self.calls += 1
        in_hw = tuple(x.shape[2:])
        scales = _scales(scale_factor) if size is None and not recompute_scale_factor else None
        if plain and entry is not None and entry[0] == in_hw and min(in_hw) > 0:
            return resize_static(x, in_hw, entry[1], scales, mode, bool(align_corners), int(align_mode))
        factor = _integer_factor(scale_factor) if size is None else None
        if plain and mode == "nearest" and not align_corners and factor:
            return paddle.repeat_interleave(paddle.repeat_interleave(x, factor, axis=2), factor, axis=3)
        return self.real(x, **args)


def _leaky_relu(real: Any) -> Any:
    def leaky_relu(x: Any, negative_slope: float = 0.01, name: str | None = None) -> Any:
        """max(x, a * x): leaky_relu for 0 <= a <= 1 without its double attribute."""
        if isinstance(negative_slope, (int, float)) and 0 <= negative_slope <= 1:
            return paddle.maximum(x, x * float(negative_slope))
        return real(x, negative_slope, name)
    return leaky_relu


def _zeros(spec: Sequence[Any]) -> list[Any] | None:
    """One zero input per InputSpec when every dimension but the batch is known; else None (no recording)."""
    if len(spec) != 1 or isinstance(spec[0], dict):
        return None
    shape = list(spec[0].shape)
    if any(d is None or d < 0 for d in shape[1:]):
        return None
    return [paddle.zeros([1, *shape[1:]], dtype=spec[0].dtype)]


@contextlib.contextmanager
def rewritten(network: paddle.nn.Layer, spec: Sequence[Any]) -> Iterator[None]:
    """While active, F.interpolate and F.leaky_relu trace to oneDNN-safe ops (the network must be in eval mode)."""
    from paddle.nn.functional import activation, common

    interpolate = _Interpolate(common.interpolate)
    leaky = _leaky_relu(activation.leaky_relu)
    for fn in (interpolate, leaky):
        fn.__module__ = _PADDLE_MODULE
    # F.upsample and nn.Upsample call common.interpolate / F.interpolate, so these cover them
    saved = {(F, "interpolate"): F.interpolate, (common, "interpolate"): common.interpolate,
             (F, "leaky_relu"): F.leaky_relu, (activation, "leaky_relu"): activation.leaky_relu}
    try:
        for module, attr in saved:
            setattr(module, attr, leaky if attr == "leaky_relu" else interpolate)
        zeros = _zeros(spec)
        if zeros is not None:
            paddle.jit.enable_to_static(False)  # eager, even if the network was converted before
            try:
                with paddle.no_grad():
                    network(*zeros)
            finally:
                paddle.jit.enable_to_static(True)
        interpolate.recording = False
        yield
    finally:
        for (module, attr), fn in saved.items():
            setattr(module, attr, fn)


def blockers(program_json: str) -> list[str]:
    """What in a saved PIR program (`.json`) oneDNN's path cannot run: `op.attribute` of double attributes and interpolations."""
    with open(program_json, encoding="utf-8") as f:
        text = f.read()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            op = node.get("#", "")
            if isinstance(op, str) and op.startswith("1.") and op[2:] not in SAFE_DOUBLE_OPS:
                for attr in node.get("A", []):
                    # an interpolation's `scale` is a double array even when empty (a size was given)
                    if '"0.a_f64"' in json.dumps(attr.get("AT", {})) or (op.endswith("_interp")
                                                                        and attr.get("N") == "scale"):
                        found.add(f"{op[2:]}.{attr.get('N')}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    return sorted(found)
