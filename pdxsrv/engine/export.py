"""Paddle inference models: trace a network to a static program, save it, and run it in paddle.inference.

A saved model is `<prefix>.json` (the PIR program) and `<prefix>.pdiparams` (the weights), as
`paddle.jit.save` writes them on paddle 3. Tracing is full-graph: a network that cannot be traced
whole fails here instead of producing a program that needs Python at run time. Detection networks
need the shims of `pdxsrv.engine.compat`, which `det_models.build` applies. R-CNN programs take one
image per run (see `det_models`).

An exported task model (`export_trained`) is a folder of `inference.json`, `inference.pdiparams`,
`deploy.yml` and, for the models PaddleX 3 knows, its `inference.yml` (`pdxsrv.engine.paddlex_yml`,
derived from deploy.yml's content). deploy.yml holds the model, labels, band count, the epoch and
metrics it came from, the program's inputs (`image` [N, bands, H, W] float32; detection adds
`im_shape` [N, 2] and `scale_factor` [N, 2], resized / original, y then x) and the preprocessing
(`Transforms`: centre crop or resize to `image_shape`, then (x / 255 - mean) / std per band, HWC
to CHW) and `onednn` (`runs: true`, or `runs: false` with the ops that stop paddle.inference's default
oneDNN CPU path: `engine.onednn_ops` rewrites interpolation and leaky_relu while tracing so that
none do). It is verified before it is written whole: the program runs on one sample and its
outputs must match the trained model's (boxes to 1e-4, class probabilities to 1e-3 relative,
label maps on all but 0.1 % of pixels). Classification programs end in softmax and segmentation
programs in argmax (a label map [N, H, W] int32), as PaddleClas and PaddleSeg exports do.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np
import paddle

from pdxsrv.engine import augment, compat, det_models, onednn_ops, paddlex_yml
from pdxsrv.engine.base import EngineError
from pdxsrv.engine.inference import Trained
from pdxsrv.engine.kinds import DEFAULT_SHAPES, input_shape
PROGRAM_SUFFIX = ".json"
OLD_PROGRAM_SUFFIX = ".pdmodel"  # the program format before PIR (quantized exports)
PARAMS_SUFFIX = ".pdiparams"


def save_inference(network: paddle.nn.Layer, input_spec: Sequence[Any], prefix: str) -> list[str]:
    """Trace `network` in eval mode for `input_spec` and save it at `prefix`; the files written."""
    network.eval()
    compat.register_patched_sources()
    with onednn_ops.rewritten(network, list(input_spec)):  # ops paddle.inference's default oneDNN path runs
        static = paddle.jit.to_static(network, input_spec=list(input_spec), full_graph=True)
        paddle.jit.save(static, prefix)
    return [prefix + PROGRAM_SUFFIX, prefix + PARAMS_SUFFIX]


class InferenceModel:
    """A saved program loaded into a paddle.inference predictor (CPU unless `gpu`)."""

    def __init__(self, prefix: str, gpu: bool = False) -> None:
        from paddle import inference

        program = next((prefix + s for s in (PROGRAM_SUFFIX, OLD_PROGRAM_SUFFIX) if os.path.isfile(prefix + s)),
                       prefix + PROGRAM_SUFFIX)
        for path in (program, prefix + PARAMS_SUFFIX):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"no inference model file {path}")
        config = inference.Config(program, prefix + PARAMS_SUFFIX)
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
ONNX_FILE = MODEL_PREFIX + ".onnx"
# Every file an export may write into save_dir. One export writes some of them (a paddle program:
# .json, .pdiparams, deploy.yml, and inference.yml for the models PaddleX 3 knows; quantized: .pdmodel
# for .json; ONNX: .onnx and deploy.yml) and removes the others found there: they would describe
# another program.
EXPORT_FILES = (MODEL_PREFIX + PROGRAM_SUFFIX, MODEL_PREFIX + OLD_PROGRAM_SUFFIX, MODEL_PREFIX + PARAMS_SUFFIX,
                ONNX_FILE, DEPLOY_FILE, paddlex_yml.FILE)
ATOL, RTOL = 1e-4, 1e-3


class Deployed(paddle.nn.Layer):
    """A classification or segmentation network as it is deployed: class probabilities, or a label map."""

    def __init__(self, network: paddle.nn.Layer, kind: str) -> None:
        super().__init__()
        self.network, self.kind = network, kind

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """softmax over classes [N, classes], or argmax over classes [N, H, W] int32 (as PaddleSeg exports)."""
        out = self.network(x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        if self.kind == "classification":
            return paddle.nn.functional.softmax(out, axis=-1)
        return paddle.argmax(out, axis=1, dtype="int32")


def deployed(trained: Trained) -> paddle.nn.Layer:
    """The network an export traces (detection networks already end in boxes and masks)."""
    kind = trained.kind.name
    return trained.model if kind in DETECTION_TYPES else Deployed(trained.model, kind)


def task_input_spec(trained: Trained) -> list[Any]:
    """What the exported program takes: `image` [N, bands, H, W] (detection adds im_shape, scale_factor)."""
    from paddle.static import InputSpec

    params = trained.meta["params"]
    if trained.kind.name in DETECTION_TYPES:
        return det_models.input_spec(str(params.get("model")))
    meta = trained.meta
    return [InputSpec([None, *input_shape(trained.kind.name, meta["params"], meta.get("in_channels"))[1:]],
                      "float32", "image")]


def _feeds_and_outputs(trained: Trained, x: np.ndarray, target: Any) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """(program feeds, the dynamic network's outputs) for one sample."""
    with paddle.no_grad():
        if trained.kind.name in DETECTION_TYPES:
            inputs = det_models.eval_inputs([{"image": x, "scale_factor": target["scale_factor"]}])
            out = trained.model(dict(inputs))
            keys = ["bbox", "bbox_num"] + (["mask"] if "mask" in out else [])
            return {k: v.numpy() for k, v in inputs.items()}, [out[k].numpy() for k in keys]
        return {"image": x[None]}, [deployed(trained)(paddle.to_tensor(x[None])).numpy()]


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
        if want.dtype.kind == "i":  # a label map: argmax may flip where two classes tie to rounding
            if got.shape != want.shape:
                return f"the program's label map {got.shape} is not the trained model's {want.shape}"
            if np.mean(got != want) > 1e-3:
                return f"the program's label map differs from the trained model's on {np.mean(got != want):.2%} of pixels"
            continue
        scale = max(1.0, float(np.nanmax(np.abs(want), initial=0.0)))
        # NaN where the trained model gives NaN too (an undertrained network's batch norm) is a match
        if got.shape == want.shape and not np.array_equal(np.isfinite(got), np.isfinite(want)):
            return ("the program and the trained model disagree on which outputs are NaN or infinite on the check "
                    "image: the network's values overflow there (undertrained or diverged; train it further)")
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
        else ("scores [batch, classes]: softmax probabilities" if kind == "classification"
              else "label_map [batch, H, W] int32: the class of each pixel"),
    }


def _flat(spec: list[Any]) -> list[Any]:
    return [s for item in spec for s in (item.values() if isinstance(item, dict) else [item])]


def _floats(value: Any, bands: int) -> list[float]:
    arr = np.resize(np.asarray(value if value is not None else [0.5], dtype=np.float64).reshape(-1), bands)
    return [float(v) for v in arr]


def verify(trained: Trained, sample: tuple[np.ndarray, Any], program: Any,
           match: Callable[[str, list[np.ndarray], list[np.ndarray]], str | None] | None = None) -> None:
    """Run `program` (`.inputs`, `.run(feeds)`) on `sample`; EngineError unless it gives the trained model's answer."""
    trained.model.eval()
    feeds, dynamic = _feeds_and_outputs(trained, *sample)
    why = (match or _match)(trained.kind.name, program.run({k: feeds[k] for k in program.inputs}), dynamic)
    if why:
        raise EngineError(f"the exported program does not reproduce the trained model: {why}")


def onednn_note(program: str) -> dict[str, Any]:
    """deploy.yml's `onednn`: whether paddle.inference's default (oneDNN) CPU path runs the program, and if not why."""
    blocked = onednn_ops.blockers(program)
    if not blocked:
        return {"runs": True}
    return {"runs": False, "blocked_by": blocked,
            "note": ("paddle 3.3.1's oneDNN path cannot run these ops' double attributes: call "
                     "config.disable_mkldnn() on the paddle.inference Config (PaddleX: run_mode paddle)")}


def write_deploy(folder: str, config: dict[str, Any]) -> None:
    """Write deploy.yml."""
    import yaml

    with open(os.path.join(folder, DEPLOY_FILE), "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, allow_unicode=True, sort_keys=False)


def export_trained(trained: Trained, folder: str, sample: tuple[np.ndarray, Any]) -> dict[str, Any]:
    """Write the program, weights, deploy.yml (and inference.yml) into `folder`, run the program on `sample` and compare.

    Returns the deploy config; EngineError when tracing fails or the program's outputs differ.
    """
    spec = task_input_spec(trained)
    prefix = os.path.join(folder, MODEL_PREFIX)
    try:
        save_inference(deployed(trained), spec, prefix)
    except Exception as exc:  # paddle raises many types while tracing; the cause is what the user needs
        raise EngineError(f"{trained.meta['params'].get('model')} could not be traced to a static program: "
                          f"{type(exc).__name__}: {str(exc)[-800:]}") from exc
    verify(trained, sample, InferenceModel(prefix))
    config = {**deploy_config(trained, spec), "onednn": onednn_note(prefix + PROGRAM_SUFFIX)}
    write_deploy(folder, config)
    paddlex_yml.write(folder, config)
    return config
