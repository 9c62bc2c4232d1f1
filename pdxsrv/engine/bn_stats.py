"""Re-estimate batch-norm statistics with the weights as they are, before an evaluation ("precise BN").

While training, a batch-norm layer keeps running averages of its batch statistics (momentum 0.9),
which lag behind weights that still change fast: trained from scratch on 30 images, a ResNet18
evaluated with them read chance (0.33) on every seed where the same weights with fresh statistics
read 0.92-1.0 (issue 15). So before each evaluation during training the statistics are computed
again: the network in eval mode except its batch-norm layers, one pass without gradients over up to
MAX_IMAGES training images spread over the list (`data.spread`; its first 64 were all one class: a
ResNet18 on 210 images read 0.85 with those statistics, 1.0 with spread ones), with the evaluation
transforms, in steps of as many images as PASS_PIXELS allows (at least the training batch). Each
layer's statistics are the exact per-channel mean and variance of everything it was given in the
pass: the batches' variances plus the spread of their means.
(Averaging the batches' own variances, as precise BN usually does, misses that spread: at 4 images a
step a ResNet152 trained on 35 images read chance, 0.31 on its own training images; with one step of
all 35 images, 0.86. Deep layers see a few pixels an image, so a small batch's variance is mostly one
image's.) Nothing else changes; the checkpoint saved after the evaluation keeps them, so prediction
and export use them too. The loop does it for the kinds that ask (`Kind.fresh_bn_stats`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_IMAGES = 64
PASS_PIXELS = 64 * 160 * 160  # pixels a step of the pass: 64 images of 160 px, 32 of 224 px, 6 of 512 px


def _norm_layers(model: Any) -> list[Any]:
    """The batch-norm layers that use batch statistics in training."""
    import paddle

    kinds = (paddle.nn.BatchNorm, paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D)
    return [layer for layer in model.sublayers()
            if isinstance(layer, kinds) and not getattr(layer, "_use_global_stats", False)]


def pass_batch(batch_size: int, pixels: int) -> int:
    """Images a step of the pass: PASS_PIXELS worth of `pixels`-pixel images, at least the training batch."""
    return max(batch_size, min(MAX_IMAGES, PASS_PIXELS // max(pixels, 1)))


def _channel_axis(layer: Any) -> int:
    """The axis of a batch-norm layer's input that holds its channels."""
    layout = getattr(layer, "_data_format", None) or getattr(layer, "_data_layout", "NCHW")
    return -1 if str(layout).endswith("C") else 1


class _Moments:
    """Per-channel count, mean and variance of everything a layer was given, combined batch by batch."""

    def __init__(self, axis: int) -> None:
        self.axis = axis
        self.parts: list[tuple[int, np.ndarray, np.ndarray]] = []

    def __call__(self, layer: Any, inputs: tuple[Any, ...]) -> None:
        """A forward pre-hook: keep this batch's per-channel mean and (biased) variance."""
        import paddle

        x = inputs[0]
        axis = self.axis % len(x.shape)
        axes = [a for a in range(len(x.shape)) if a != axis]
        mean = paddle.mean(x, axis=axes, keepdim=True)
        variance = paddle.mean(paddle.square(x - mean), axis=axes)
        count = int(np.prod([x.shape[a] for a in axes]))
        self.parts.append((count, mean.flatten().numpy().astype(np.float64), variance.numpy().astype(np.float64)))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, variance) over all batches: the batch variances plus the spread of the batch means."""
        counts = np.array([c for c, _, _ in self.parts], dtype=np.float64)[:, None]
        means = np.stack([m for _, m, _ in self.parts])
        variances = np.stack([v for _, _, v in self.parts])
        mean = (counts * means).sum(0) / counts.sum()
        variance = (counts * (variances + (means - mean) ** 2)).sum(0) / counts.sum()
        return mean, variance


def recompute(kind: Any, model: Any, loader: Any, images: list[str], batch_size: int, pixels: int) -> int:
    """Set every batch-norm layer's statistics to those of its inputs over `spread(images, MAX_IMAGES)`
    (`pixels` an image); return the steps of the pass."""
    import paddle

    from pdxsrv.engine.data import chunks, spread

    layers = _norm_layers(model)
    groups = chunks(spread(images, MAX_IMAGES), pass_batch(batch_size, pixels))
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups.pop()  # batch statistics of one image are the image's own
    if not layers or not groups:
        return 0
    moments = [_Moments(_channel_axis(layer)) for layer in layers]
    hooks = [layer.register_forward_pre_hook(m) for layer, m in zip(layers, moments)]
    model.eval()
    for layer in layers:
        layer.train()
    try:
        with paddle.no_grad():
            for _, inputs, _ in loader.iterate(groups, train=False):
                kind.infer(model, inputs)
    finally:
        for hook in hooks:
            hook.remove()
        model.train()
    for layer, m in zip(layers, moments):
        if m.parts:
            mean, variance = m.result()
            layer._mean.set_value(mean.astype(np.float32).reshape(layer._mean.shape))
            layer._variance.set_value(variance.astype(np.float32).reshape(layer._variance.shape))
    return len(groups)
