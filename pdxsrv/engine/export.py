"""Paddle inference models: trace a network to a static program, save it, and run it in paddle.inference.

A saved model is `<prefix>.json` (the PIR program) and `<prefix>.pdiparams` (the weights), as
`paddle.jit.save` writes them on paddle 3. Tracing is full-graph: a network that cannot be traced
whole fails here instead of producing a program that needs Python at run time. Detection networks
need the shims of `pdxsrv.engine.compat`, which `det_models.build` applies. R-CNN programs take one
image per run (see `det_models`).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import paddle

from pdxsrv.engine import compat

PROGRAM_SUFFIX = ".json"
PARAMS_SUFFIX = ".pdiparams"


def save_inference(network: paddle.nn.Layer, input_spec: Sequence[Any], prefix: str) -> list[str]:
    """Trace `network` in eval mode for `input_spec` and save it at `prefix`; the files written."""
    network.eval()
    compat.register_patched_sources()
    static = paddle.jit.to_static(network, input_spec=list(input_spec), full_graph=True)
    paddle.jit.save(static, prefix)
    return [prefix + PROGRAM_SUFFIX, prefix + PARAMS_SUFFIX]


class InferenceModel:
    """A saved program loaded into a paddle.inference predictor (CPU unless `gpu`)."""

    def __init__(self, prefix: str, gpu: bool = False) -> None:
        from paddle import inference

        for path in (prefix + PROGRAM_SUFFIX, prefix + PARAMS_SUFFIX):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"no inference model file {path}")
        config = inference.Config(prefix + PROGRAM_SUFFIX, prefix + PARAMS_SUFFIX)
        if gpu:
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
            config.disable_mkldnn()  # oneDNN kernels differ from the dynamic model's by more than rounding
        self.predictor = inference.create_predictor(config)
        self.inputs: list[str] = list(self.predictor.get_input_names())

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The program's outputs, in order, for the named inputs (every input the program takes)."""
        missing = [name for name in self.inputs if name not in feeds]
        if missing:
            raise KeyError(f"inference inputs missing: {', '.join(missing)}")
        for name in self.inputs:
            self.predictor.get_input_handle(name).copy_from_cpu(np.ascontiguousarray(feeds[name]))
        self.predictor.run()
        return [self.predictor.get_output_handle(n).copy_to_cpu() for n in self.predictor.get_output_names()]
