"""Fit a classification network's downsampling to small inputs, so its last stage never sees 1x1 maps.

The paddle.vision networks halve the resolution five times (stride 32): at 32 px their last stage
works on 1x1 maps, where every batch-norm layer estimates a channel's mean and variance from the
batch alone (4 values at batch 4). Images of a small dataset look alike at that scale, so the
variance is near 0 and each such layer multiplies the gradient by up to gamma/sqrt(eps) ~ 316: the
gradient norm at the first step was 1e4 at 32 px against 77 at 224 px (MobileNetV2), and training
went NaN in its second epoch (issue 15). As the CIFAR variants of these networks do, the first
downsampling steps are undone instead (stride 1, the same weights), until the last maps are at
least MIN_SIDE pixels a side.

A downsampling step is the set of convolutions and pools that take maps of one resolution to half of
it (a residual block's main path and its shortcut form one step), found by running the network once
on a blank image. A pool whose kernel equals its stride (DenseNet's transitions) becomes the
identity. The result depends only on the model and `image_shape`, so evaluation, prediction, export
and pruning rebuild the same network from the task's parameters.
"""

from __future__ import annotations

from typing import Any

MIN_SIDE = 2  # 1x1 is where the variance is the batch's alone; 2x2 brought MobileNetV2's first gradient norm from 1e4 to 265


def _downsampling_steps(model: Any, height: int, width: int) -> list[list[Any]]:
    """The layers that halve the resolution, grouped by the resolution they take, from the input on."""
    import paddle

    found: list[tuple[int, Any]] = []
    hooks = []
    for layer in model.sublayers():
        if isinstance(layer, (paddle.nn.Conv2D, paddle.nn.MaxPool2D, paddle.nn.AvgPool2D)):
            def record(layer: Any, inputs: Any, output: Any) -> None:
                if output.shape[2] < inputs[0].shape[2]:
                    found.append((int(inputs[0].shape[2]), layer))
            hooks.append(layer.register_forward_post_hook(record))
    training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.zeros([1, 3, height, width]))
    finally:
        for hook in hooks:
            hook.remove()
        model.train() if training else model.eval()
    steps: dict[int, list[Any]] = {}
    for resolution, layer in found:
        steps.setdefault(resolution, []).append(layer)
    return [steps[r] for r in sorted(steps, reverse=True)]


def _keep_resolution(layer: Any) -> None:
    """Make one downsampling layer keep its input's resolution."""
    import paddle

    if isinstance(layer, paddle.nn.Conv2D):
        layer._stride = [1, 1]
        return
    kernel = layer.ksize
    if kernel in (2, [2, 2], (2, 2)) and layer.stride in (2, [2, 2], (2, 2)):
        layer.ksize = 1  # a 2x2 pool with stride 2 at stride 1 would shrink the map by a pixel
    layer.stride = 1


def fit_strides(model: Any, image_shape: tuple[int, int]) -> int:
    """Undo the first downsampling steps of `model` until its last maps are >= MIN_SIDE at `image_shape`
    (width, height); return how many steps were undone."""
    width, height = image_shape
    steps = _downsampling_steps(model, height, width)
    side, undone = min(height, width), 0
    for _ in steps:
        side = (side + 1) // 2
    while side < MIN_SIDE and undone < len(steps):
        for layer in steps[undone]:
            _keep_resolution(layer)
        undone += 1
        side *= 2
    return undone
