"""Post-training quantization (int8) of a trained classification model.

`quantize(model_dir, calibration, out)` runs `python -m pdxsrv.engine.quant MODEL_DIR CALIB OUT` in
a child interpreter with `FLAGS_enable_pir_api=0`: paddle's `PostTrainingQuantization` works on
the old program format (`.pdmodel`) only, and the flag must be set before paddle is imported.
The child traces the checkpoint to `OUT/fp32/inference.pdmodel`, calibrates with the images in
CALIB (an .npy of preprocessed images, [N, bands, H, W] float32, in batches of `BATCH`) using
abs-max scales for weights and activations of convolutions and matrix products, and writes
`OUT/inference.pdmodel` + `OUT/inference.pdiparams`: a program with quantize/dequantize ops that
paddle.inference runs (in float on a CPU without oneDNN int8). It prints one `stage: NAME` line
per stage (`trace`, `calibrate`, `write`, the original's Batch/Weight/Activation/Finish in
spirit); anything else it prints is kept for the error message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Callable

import numpy as np

from pdxsrv.domain.params import QUANTIZABLE_TYPES
from pdxsrv.engine.base import DataSpec, EngineError

CALIBRATION_IMAGES = 40  # 10 batches of 4: PaddleX's default of 10 calibration batches
BATCH = 4
PROGRAM = "inference.pdmodel"
PARAMS = "inference.pdiparams"
QUANTIZABLE = ["conv2d", "depthwise_conv2d", "conv2d_transpose", "mul", "matmul", "matmul_v2"]
TIMEOUT_S = 1800


def quantize(model_dir: str, calibration: str, out: str, stage: Callable[[str], None] | None = None) -> None:
    """Quantize the checkpoint in `model_dir` into `out`; EngineError with the child's reason."""
    env = {**os.environ, "FLAGS_enable_pir_api": "0"}
    child = subprocess.Popen([sys.executable, "-m", __name__, model_dir, calibration, out], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("stage: ") and stage is not None:
            stage(line[len("stage: "):].strip())
        else:
            said.append(line.rstrip())
    code = child.wait(TIMEOUT_S)
    if code != 0 or not os.path.isfile(os.path.join(out, PARAMS)):
        reason = "\n".join(s for s in said if "rror" in s)[-800:] or (said[-1] if said else f"exit status {code}")
        raise EngineError(f"post-training quantization failed: {reason}")


class ProgramModel:
    """A saved classification program standing in for the network where the engine evaluates one."""

    def __init__(self, run: Callable[[dict[str, np.ndarray]], list[np.ndarray]]) -> None:
        self.run = run

    def eval(self) -> "ProgramModel":
        """Already in eval mode."""
        return self

    def train(self) -> "ProgramModel":
        """A program has no training mode; nothing to do."""
        return self

    def __call__(self, x: Any) -> Any:
        """The program's class scores for a batch tensor."""
        import paddle

        return paddle.to_tensor(self.run({"image": np.asarray(x.numpy(), dtype=np.float32)})[0])


def agreement(kind: str, program: list[np.ndarray], dynamic: list[np.ndarray]) -> str | None:
    """Why a quantized program's answer on one image is not the trained model's, or None when it agrees.

    Int8 outputs cannot match within float tolerance: the top class must be the same.
    """
    got, want = program[0], dynamic[0]
    if got.shape != want.shape:
        return f"the quantized program's output {got.shape} is not the trained model's {want.shape}"
    if int(np.argmax(got)) != int(np.argmax(want)):
        return f"the quantized program picks class {int(np.argmax(got))}, the trained model {int(np.argmax(want))}"
    return None


def export_quantized(trained: Any, model_dir: str, folder: str, dataset: DataSpec, sample: tuple[np.ndarray, Any],
                     stage: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the int8 program and deploy.yml into `folder`; (deploy config, {"before", "after"} val metrics).

    Calibrates on up to CALIBRATION_IMAGES train images spread over the list (every class; eval preprocessing),
    checks the program on `sample` (`agreement`), then evaluates the trained model and the program on the val set.
    """
    from dataclasses import replace

    from pdxsrv.engine import export, inference
    from pdxsrv.engine.data import spread

    kind = trained.kind.name
    if kind not in QUANTIZABLE_TYPES:
        raise EngineError(f"quantized export is for {', '.join(QUANTIZABLE_TYPES)} models, not {kind}")
    params, rng = trained.meta["params"], np.random.default_rng(0)
    images = spread(dataset.parts["train"] or dataset.parts["val"], CALIBRATION_IMAGES)
    calibration = os.path.join(folder, "calibration.npy")
    np.save(calibration, np.stack([trained.kind.sample(dataset, p, False, rng, params)[0] for p in images]))
    stage("calibrate")
    quantize(model_dir, calibration, os.path.join(folder, "int8"), stage)
    for name in (PROGRAM, PARAMS):
        os.replace(os.path.join(folder, "int8", name), os.path.join(folder, name))
    program = export.InferenceModel(os.path.join(folder, export.MODEL_PREFIX))
    export.verify(trained, sample, program, agreement)
    stage("evaluate")
    result = {"before": inference.summary_on(trained, dataset),
              "after": inference.summary_on(replace(trained, model=ProgramModel(program.run)), dataset)}
    config = {**export.deploy_config(trained, export.task_input_spec(trained)), "program": PROGRAM,
              "quantized": True, "quant_result": result}
    export.write_deploy(folder, config)
    return config, result


def _batches(calibration: str) -> Callable[[], object]:
    images = np.load(calibration)

    def batches() -> object:
        for start in range(0, len(images), BATCH):
            yield {"image": images[start:start + BATCH]}
    return batches


def _main(model_dir: str, calibration: str, out: str) -> int:
    """The child's work (old program format): trace, calibrate, write."""
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    from pdxsrv.engine import export, inference

    print("stage: trace", flush=True)
    trained = inference.load_trained(model_dir)
    fp32 = os.path.join(out, "fp32")
    export.save_inference(export.deployed(trained), export.task_input_spec(trained), os.path.join(fp32, "inference"))
    paddle.enable_static()
    print("stage: calibrate", flush=True)
    count = len(np.load(calibration, mmap_mode="r"))
    ptq = PostTrainingQuantization(
        executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=fp32, model_filename=PROGRAM,
        params_filename=PARAMS, data_loader=_batches(calibration), batch_nums=-(-count // BATCH), algo="abs_max",
        quantizable_op_type=QUANTIZABLE, onnx_format=True)
    ptq.quantize()
    print("stage: write", flush=True)
    ptq.save_quantized_model(out, model_filename=PROGRAM, params_filename=PARAMS)
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:4]))
