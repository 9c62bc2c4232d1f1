"""L1-norm filter pruning of a network, in place, by channel group (`pdxsrv.engine.channels`).

A group is named by its first producing filter (`layer1.0.conv1.weight`); `ratios` map such names to
the share of the group's channels to cut. The channels whose producing filters have the smallest L1
norm go; every parameter slice of the group loses the same indices. A pruned network's shape is
`pruned_shapes`: `{parameter or buffer name: shape}` of what differs from the unpruned network. A
checkpoint's `meta.json` carries it as `pruned`, and `reshape_to` gives a freshly built network those
shapes before the weights are loaded.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import numpy as np
import paddle

from pdxsrv.engine.channels import Group, prunable


def key(group: Group) -> str:
    """The name a group goes by: its first producing filter."""
    return group.producers[0][0]


def tensors(model: paddle.nn.Layer) -> dict[str, paddle.Tensor]:
    """Every parameter and buffer of `model` by structured name."""
    found = dict(model.named_parameters())
    found.update(dict(model.named_buffers()))
    return found


def kept(count: int, ratio: float) -> int:
    """How many of `count` channels stay at `ratio` (at least one)."""
    return max(1, count - int(round(count * float(ratio))))


def importance(values: dict[str, np.ndarray], group: Group) -> np.ndarray:
    """The L1 norm of each channel's producing filters, summed over the producers."""
    total = np.zeros(group.size, dtype=np.float64)
    for name, axis, at in group.producers:
        part = np.take(values[name], range(at, at + group.size), axis=axis)
        total += np.abs(np.moveaxis(part, axis, 0)).reshape(group.size, -1).sum(axis=1)
    return total


def prune(model: paddle.nn.Layer, groups: Sequence[Group], ratios: dict[str, float]) -> dict[str, list[int]]:
    """Cut `ratios[key]` of each named group's channels (lowest L1 first); return the network's pruned shapes."""
    by_key = {key(g): g for g in prunable(list(groups))}
    cut = [(by_key[name], ratio) for name, ratio in ratios.items() if name in by_key and float(ratio) > 0]
    current = tensors(model)
    values = {n: current[n].numpy() for group, _ in cut for n, _, _ in group.producers + group.members}
    drops: dict[tuple[str, int], list[int]] = {}
    for group, ratio in cut:
        order = np.argsort(importance(values, group), kind="stable")
        dropped = np.sort(order[: group.size - kept(group.size, ratio)])
        for param, axis, at in group.producers + group.members:
            drops.setdefault((param, axis), []).extend(int(at + i) for i in dropped)
    for (param, axis), indices in drops.items():
        values[param] = np.delete(values[param], sorted(set(indices)), axis=axis)
    changed = {param: list(values[param].shape) for param, _ in drops}
    for param in changed:
        _set(current[param], values[param])
    _fix_depthwise(model)
    model._pdxsrv_pruned = {**pruned_shapes(model), **changed}
    return pruned_shapes(model)


def pruned_shapes(model: paddle.nn.Layer) -> dict[str, list[int]]:
    """What `prune` and `reshape_to` did to the network so far: `{name: shape}` (empty when unpruned)."""
    return dict(getattr(model, "_pdxsrv_pruned", {}))


def reshape_to(model: paddle.nn.Layer, pruned: dict[str, Any] | None) -> paddle.nn.Layer:
    """Give a freshly built network the shapes of a pruned checkpoint (values are zeros until loaded)."""
    if not pruned:
        return model
    current = tensors(model)
    unknown = sorted(set(pruned) - set(current))
    if unknown:
        raise ValueError(f"the checkpoint's pruned shapes name parameters this network lacks: {unknown[:3]}")
    for name, shape in pruned.items():
        tensor = current[name]
        if list(tensor.shape) != list(shape):
            _set(tensor, np.zeros(shape, dtype=tensor.numpy().dtype))
    _fix_depthwise(model)
    model._pdxsrv_pruned = {n: list(s) for n, s in pruned.items()}
    return model


Snapshot = tuple[dict[str, np.ndarray], dict[str, list[int]]]


def snapshot(model: paddle.nn.Layer) -> Snapshot:
    """A copy of the network's values and pruning record, for `restore`."""
    return {name: t.numpy().copy() for name, t in tensors(model).items()}, pruned_shapes(model)


def restore(model: paddle.nn.Layer, saved: Snapshot) -> None:
    """Put back the values and shapes of a `snapshot`."""
    values, pruned = saved
    for name, tensor in tensors(model).items():
        if list(tensor.shape) != list(values[name].shape):  # pruning only ever slices: the rest is as saved
            _set(tensor, values[name])
    _fix_depthwise(model)
    model._pdxsrv_pruned = dict(pruned)


def _set(tensor: paddle.Tensor, value: np.ndarray) -> None:
    """Replace a parameter's or buffer's data (shape included), keeping the object the optimizer knows."""
    place = tensor.place
    place = paddle.CUDAPlace(place.gpu_device_id()) if place.is_gpu_place() else paddle.CPUPlace()
    tensor.get_tensor().set(np.ascontiguousarray(value), place)


def _fix_depthwise(model: paddle.nn.Layer) -> None:
    """A depthwise convolution has as many groups as channels: follow a pruned channel count."""
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.Conv2D) and layer._groups > 1 and layer.weight.shape[1] == 1:
            layer._groups = layer._in_channels = layer._out_channels = int(layer.weight.shape[0])


def flops(model: paddle.nn.Layer, input_shape: Sequence[int]) -> int:
    """Multiply-accumulate count of one forward pass at `input_shape` (paddle.flops, its table silenced)."""
    was_training = model.training
    model.eval()
    try:
        with contextlib.redirect_stdout(io.StringIO()), paddle.no_grad():
            return int(paddle.flops(model, list(input_shape), print_detail=False))
    finally:
        model.train(was_training)


def parameters(model: paddle.nn.Layer) -> int:
    """The number of weights (parameters, not buffers)."""
    return int(sum(int(np.prod(p.shape)) for p in model.parameters()))
