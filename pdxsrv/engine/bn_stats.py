"""Re-estimate batch-norm statistics with the weights as they are, before an evaluation ("precise BN").

While training, a batch-norm layer keeps running averages of its batch statistics (momentum 0.9),
which lag behind weights that still change fast: trained from scratch on 30 images, a ResNet18
evaluated with them read chance (0.33) on every seed where the same weights with fresh statistics
read 0.92-1.0 (issue 15). So before each evaluation during training the statistics are computed
again: the network in eval mode except its batch-norm layers, one pass without gradients over up to
MAX_IMAGES training images with the evaluation transforms, each layer's statistics the plain average
over those batches. Nothing else changes; the checkpoint saved after the evaluation keeps them, so
prediction and export use them too. The loop does it for the kinds that ask (`Kind.fresh_bn_stats`).
"""

from __future__ import annotations

from typing import Any

MAX_IMAGES = 64


def _norm_layers(model: Any) -> list[Any]:
    """The batch-norm layers that use batch statistics in training."""
    import paddle

    kinds = (paddle.nn.BatchNorm, paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D)
    return [layer for layer in model.sublayers()
            if isinstance(layer, kinds) and not getattr(layer, "_use_global_stats", False)]


def recompute(kind: Any, model: Any, loader: Any, images: list[str], batch_size: int) -> int:
    """Average the batch statistics of `images[:MAX_IMAGES]` into every batch-norm layer; return the batches."""
    import paddle

    from pdxsrv.engine.data import chunks

    layers = _norm_layers(model)
    groups = chunks(images[:MAX_IMAGES], max(batch_size, 2))
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups.pop()  # batch statistics of one image are the image's own
    if not layers or not groups:
        return 0
    momenta = [layer._momentum for layer in layers]
    model.eval()
    for layer in layers:
        layer.train()
    try:
        with paddle.no_grad():
            for index, inputs, _ in loader.iterate(groups, train=False):
                for layer in layers:
                    layer._momentum = index / (index + 1)  # running = mean of the batches so far
                kind.infer(model, inputs)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer._momentum = momentum
        model.train()
    return len(groups)
