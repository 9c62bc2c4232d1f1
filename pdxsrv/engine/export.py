"""Paddle inference models: trace a network to a static program, save it, and run it in paddle.inference.

A saved model is `<prefix>.json` (the PIR program) and `<prefix>.pdiparams` (the weights), as
`paddle.jit.save` writes them on paddle 3. Tracing is full-graph: a network that cannot be traced
whole fails here instead of producing a program that needs Python at run time. Detection networks
need the shims of `pdxsrv.engine.compat`, which `det_models.build` applies. R-CNN programs take one
image per run (see `det_models`).

An exported task model (`export_trained`) is a folder of `inference.json`, `inference.pdiparams`
and `deploy.yml`: the model, labels, band count, the epoch and metrics it came from, the program's
inputs (`image` [N, bands, H, W] float32; detection adds `im_shape` [N, 2] and `scale_factor`
[N, 2], resized / original, y then x) and the preprocessing (`Transforms`: centre crop or resize to
`image_shape`, then (x / 255 - mean) / std per band, HWC to CHW). It is verified before it is
written whole: the program runs on one sample and its outputs must match the trained model's
(boxes to 1e-4, logits to 1e-3 relative).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import paddle

from pdxsrv.engine import augment, compat, det_models
from pdxsrv.engine.base import EngineError
from pdxsrv.engine.inference import Trained
from pdxsrv.engine.segmentation import DEFAULT_SHAPE as SEG_SHAPE

DEFAULT_SHAPES = {"segmentation": SEG_SHAPE, "remote_segmentation": SEG_SHAPE, "detection": (608, 608),
                  "instance_segmentation": (608, 608)}
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


DETECTION_TYPES = ("detection", "instance_segmentation")
MODEL_PREFIX = "inference"
DEPLOY_FILE = "deploy.yml"
EXPORTED_FILES = (MODEL_PREFIX + PROGRAM_SUFFIX, MODEL_PREFIX + PARAMS_SUFFIX, DEPLOY_FILE)
ATOL, RTOL = 1e-4, 1e-3


def task_input_spec(trained: Trained) -> list[Any]:
    """What the exported program takes: `image` [N, bands, H, W] (detection adds im_shape, scale_factor)."""
    from paddle.static import InputSpec

    params = trained.meta["params"]
    if trained.kind.name in DETECTION_TYPES:
        return det_models.input_spec(str(params.get("model")))
    width, height = augment.image_shape(params, DEFAULT_SHAPES.get(trained.kind.name, (224, 224)))
    return [InputSpec([None, int(trained.meta.get("in_channels") or 3), height, width], "float32", "image")]


def _feeds_and_outputs(trained: Trained, x: np.ndarray, target: Any) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """(program feeds, the dynamic network's outputs) for one sample."""
    with paddle.no_grad():
        if trained.kind.name in DETECTION_TYPES:
            inputs = det_models.eval_inputs([{"image": x, "scale_factor": target["scale_factor"]}])
            out = trained.model(dict(inputs))
            keys = ["bbox", "bbox_num"] + (["mask"] if "mask" in out else [])
            return {k: v.numpy() for k, v in inputs.items()}, [out[k].numpy() for k in keys]
        out = trained.model(paddle.to_tensor(x[None]))
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        return {"image": x[None]}, [o.numpy() for o in outs]


def _match(kind: str, program: list[np.ndarray], dynamic: list[np.ndarray]) -> str | None:
    """Why the program's outputs differ from the dynamic network's, or None when they agree."""
    if kind in DETECTION_TYPES:  # program outputs come in graph order: find bbox, bbox_num (and mask) by shape
        found = [next((o for o in program if o.ndim == 2 and o.shape[-1] == 6), None),
                 next((o for o in program if o.ndim == 1), None),
                 next((o for o in program if o.ndim == 3), None)][:len(dynamic)]
        if any(o is None for o in found):
            return f"the program gave outputs of shapes {[o.shape for o in program]}"
        if not np.array_equal(found[1], dynamic[1]):
            return f"the program found {found[1].tolist()} boxes, the trained model {dynamic[1].tolist()}"
        if found[0].shape != dynamic[0].shape or not np.allclose(found[0], dynamic[0], atol=ATOL, rtol=RTOL):
            return "the program's boxes differ from the trained model's"
        if len(dynamic) == 3 and (found[2].shape != dynamic[2].shape or np.mean(found[2] != dynamic[2]) > 1e-3):
            return "the program's masks differ from the trained model's"
        return None
    if len(program) < len(dynamic):
        return f"the program gave {len(program)} outputs, the trained model {len(dynamic)}"
    for got, want in zip(program, dynamic):
        scale = max(1.0, float(np.nanmax(np.abs(want), initial=0.0)))
        # NaN where the trained model gives NaN too (an undertrained network's batch norm) is a match
        if got.shape != want.shape or not np.allclose(got, want, atol=ATOL * scale, rtol=RTOL, equal_nan=True):
            diff = float(np.nanmax(np.abs(got - want), initial=0.0)) if got.shape == want.shape else float("nan")
            return (f"the program's output {got.shape} differs from the trained model's {want.shape} "
                    f"(largest difference {diff:.3g}, largest value {scale:.3g})")
    return None


def deploy_config(trained: Trained, spec: list[Any]) -> dict[str, Any]:
    """What a deployment needs besides the program: the model, labels, inputs and preprocessing."""
    params, meta = trained.meta["params"], trained.meta
    kind = trained.kind.name
    width, height = augment.image_shape(params, DEFAULT_SHAPES.get(kind, (224, 224)))
    resize = {"ResizeByShort": {"short_size": int(min(width, height) * 1.143)}, "CenterCrop": {"size": [width, height]}} \
        if kind == "classification" else {"Resize": {"target_size": [width, height], "interp": "LINEAR"}}
    bands = int(meta.get("in_channels") or 3)
    return {
        "Model": params.get("model"), "backbone": params.get("backbone"), "project_type": kind,
        "labels": list(meta["labels"]), "in_channels": bands, "epoch": meta.get("epoch"),
        "metrics": meta.get("metrics") or {},
        "program": MODEL_PREFIX + PROGRAM_SUFFIX, "params": MODEL_PREFIX + PARAMS_SUFFIX,
        "inputs": [{"name": s.name, "shape": [-1 if d is None else int(d) for d in s.shape], "dtype": "float32"}
                   for s in _flat(spec)],
        "Transforms": [resize, {"Normalize": {"mean": _floats(params.get("image_mean"), bands),
                                              "std": _floats(params.get("image_std"), bands),
                                              "scale": "pixels to [0, 1] first: integer types / their maximum (uint8 / 255), floats as they are"}}, {"Permute": "HWC to CHW"}],
        "outputs": ("bbox [N, 6]: class, score, x1, y1, x2, y2 in original pixels; bbox_num [batch]"
                    + ("; mask [N, H, W]" if kind == "instance_segmentation" else "")) if kind in DETECTION_TYPES
        else ("logits [batch, classes]" if kind == "classification" else "logits [batch, classes, H, W]"),
    }


def _flat(spec: list[Any]) -> list[Any]:
    return [s for item in spec for s in (item.values() if isinstance(item, dict) else [item])]


def _floats(value: Any, bands: int) -> list[float]:
    arr = np.resize(np.asarray(value if value is not None else [0.5], dtype=np.float64).reshape(-1), bands)
    return [float(v) for v in arr]


def export_trained(trained: Trained, folder: str, sample: tuple[np.ndarray, Any]) -> dict[str, Any]:
    """Write the program, weights and deploy.yml into `folder`, run the program on `sample` and compare.

    Returns the deploy config; EngineError when tracing fails or the program's outputs differ.
    """
    import yaml

    spec = task_input_spec(trained)
    prefix = os.path.join(folder, MODEL_PREFIX)
    try:
        save_inference(trained.model, spec, prefix)
    except Exception as exc:  # paddle raises many types while tracing; the cause is what the user needs
        raise EngineError(f"{trained.meta['params'].get('model')} could not be traced to a static program: "
                          f"{type(exc).__name__}: {str(exc)[-800:]}") from exc
    trained.model.eval()
    feeds, dynamic = _feeds_and_outputs(trained, *sample)
    program = InferenceModel(prefix)
    why = _match(trained.kind.name, program.run({k: feeds[k] for k in program.inputs}), dynamic)
    if why:
        raise EngineError(f"the exported program does not reproduce the trained model: {why}")
    config = deploy_config(trained, spec)
    with open(os.path.join(folder, DEPLOY_FILE), "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, allow_unicode=True, sort_keys=False)
    return config
