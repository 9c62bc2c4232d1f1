"""Exports run in paddle.inference with a DEFAULT Config (oneDNN on, CPU) and give the dynamic model's answer.

One model per family the engine exports (classification, segmentation, 4-band remote sensing,
detection, instance segmentation), untrained on generated images. The predictor runs in a child
process, so a crash (paddle 3.3.1's oneDNN passes segfaulted on YOLOv3) fails the test instead of
killing pytest; and `pdxsrv predict` on each export gives what pdxsrv's predictor gives with the
trained model. `engine.onednn_ops` is what makes them run; the last tests show that the programs it
avoids really fail there and that deploy.yml says so when a program still carries such an op.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import yaml

paddle = pytest.importorskip("paddle")

from pdxsrv.datasets import readers, synthetic  # noqa: E402
from pdxsrv.engine import export, onednn_ops  # noqa: E402
from pdxsrv.engine.base import DataSpec  # noqa: E402
from pdxsrv.engine.inference import Trained  # noqa: E402
from pdxsrv.engine.kinds import kind_of  # noqa: E402
from pdxsrv.engine.loop import build  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (project type, parameters, generated image size): the fastest model of each family to trace, and the
# two that failed under oneDNN before (PP-LiteSeg: interpolation; YOLOv3: leaky_relu).
CASES = [
    ("classification", {"model": "MobileNetV3_small", "image_shape": [32, 32]}, 32),
    ("segmentation", {"model": "PPLiteSeg", "image_shape": [64, 64]}, 64),
    ("remote_segmentation", {"model": "BiSeNetV2", "image_shape": [64, 64]}, 64),
    ("detection", {"model": "YOLOv3", "backbone": "MobileNetV3", "image_shape": [128, 128]}, 128),
    ("instance_segmentation", {"model": "MaskRCNN", "backbone": "ResNet18", "image_shape": [128, 128]}, 128),
]
# Runs the program saved at argv[1] on the feeds in argv[2] with paddle.inference's defaults; outputs to argv[3].
DEFAULT_PREDICTOR = """
import sys
import numpy as np
from paddle import inference
prefix, feeds, out = sys.argv[1:4]
config = inference.Config(prefix + ".json", prefix + ".pdiparams")
assert config.mkldnn_enabled(), "paddle.inference's default Config no longer enables oneDNN"
predictor = inference.create_predictor(config)
arrays = np.load(feeds)
for name in predictor.get_input_names():
    predictor.get_input_handle(name).copy_from_cpu(arrays[name])
predictor.run()
np.savez(out, *[predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()])
"""


def run_default(prefix: str, feeds: dict[str, np.ndarray], work: str) -> list[np.ndarray]:
    """The outputs of the program at `prefix` in a default paddle.inference predictor (a child process)."""
    np.savez(os.path.join(work, "feeds.npz"), **feeds)
    out = os.path.join(work, "outputs.npz")
    done = subprocess.run([sys.executable, "-c", DEFAULT_PREDICTOR, prefix, os.path.join(work, "feeds.npz"), out],
                          capture_output=True, text=True, timeout=300)
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
    assert done.returncode == 0, f"the default predictor failed (exit {done.returncode}):\n{tail}"
    with np.load(out) as found:
        return [found[f"arr_{i}"] for i in range(len(found.files))]


def dataset(project_type: str, root: str, size: int) -> DataSpec:
    """Two generated images of `project_type` (4 bands for remote sensing)."""
    synthetic.make(project_type, root, images=2, size=size)
    found = readers.READERS[project_type](root, None).details()
    images = sorted(found["file_info"])
    return DataSpec(root, found["labels"], found["file_info"], {"train": images, "val": images, "test": []},
                    found["bands"])


def build_trained(project_type: str, params: dict[str, Any], size: int, root: str) -> tuple[Trained, DataSpec, Any]:
    """(an untrained network of `params` as a Trained, its generated dataset, the export's check sample)."""
    spec = dataset(project_type, root, size)
    meta = {"project_type": project_type, "labels": spec.labels, "in_channels": spec.bands, "epoch": 1,
            "params": dict(params)}
    kind = kind_of(project_type)
    paddle.seed(0)
    model = build(kind, spec, meta["params"])
    model.eval()
    sample = kind.sample(spec, spec.parts["val"][0], False, np.random.default_rng(0), meta["params"])
    return Trained(kind, model, meta), spec, sample


@pytest.mark.parametrize("project_type,params,size", CASES, ids=[c[0] for c in CASES])
def test_the_export_runs_with_a_default_config_and_matches(project_type: str, params: dict[str, Any], size: int,
                                                          tmp_path: Any) -> None:
    trained, spec, sample = build_trained(project_type, params, size, str(tmp_path / "data"))
    kind, model, meta = trained.kind, trained.model, trained.meta
    folder = tmp_path / "export"
    folder.mkdir()
    export.export_trained(trained, str(folder), sample)  # verified with oneDNN off, as before
    with open(folder / "deploy.yml", encoding="utf-8") as f:
        assert yaml.safe_load(f)["onednn"] == {"runs": True}

    feeds, dynamic = export._feeds_and_outputs(trained, *sample)
    program = run_default(str(folder / "inference"), feeds, str(tmp_path))
    why = export._match(kind.name, program, dynamic)
    assert why is None, why
    if project_type in export.DETECTION_TYPES:
        assert len(dynamic[0]) > 0  # there were boxes to compare

    # `pdxsrv predict` on the export gives what pdxsrv's own predictor gives with the trained model
    image = os.path.join(spec.root, spec.parts["val"][0])
    lines, done = predict_cli(str(folder), [image], str(tmp_path / "drawn"), "--threshold", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    with paddle.no_grad():
        ours = kind.predict(model, image, spec, meta["params"], {"score_thresh": 0.0, "topk": 5})
    assert_same_prediction(project_type, lines[0], ours)
    assert os.path.isfile(lines[0]["visual"])


def predict_cli(folder: str, images: list[str], out: str | None, *extra: str) -> tuple[list[dict[str, Any]], Any]:
    """(JSON lines, the finished process) of `pdxsrv predict` run as a user runs it."""
    args = [sys.executable, "-m", "pdxsrv", "predict", folder, *images, *(["--out", out] if out else []), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=REPO)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")], done


def assert_same_prediction(project_type: str, line: dict[str, Any], ours: Any) -> None:
    """The CLI's line agrees with the engine's Prediction (program vs dynamic network: rounding only)."""
    want = ours.result
    if project_type == "classification":
        assert line["category_id"] == want["category_id"]
        np.testing.assert_allclose([t["score"] for t in line["topk"]], [t["score"] for t in want["topk"]], atol=1e-4)
    elif project_type in export.DETECTION_TYPES:
        assert [o["category_id"] for o in line["objects"]] == [o["category_id"] for o in want["objects"]]
        np.testing.assert_allclose([o["bbox"] for o in line["objects"]], [o["bbox"] for o in want["objects"]],
                                   atol=1e-3)
        np.testing.assert_allclose([o["score"] for o in line["objects"]], [o["score"] for o in want["objects"]],
                                   atol=1e-5)
    else:
        import cv2

        mask = cv2.imread(line["mask"], cv2.IMREAD_UNCHANGED)
        assert mask.shape == ours.extra["mask"].shape and np.mean(mask != ours.extra["mask"]) < 1e-3
        assert line["label_map_classes"] == want["label_map_classes"]


def _conv_then(act: str) -> paddle.nn.Layer:
    class Net(paddle.nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 4, 3, stride=2, padding=1)

        def forward(self, x: paddle.Tensor) -> paddle.Tensor:
            y = self.conv(x)
            if act == "bilinear":
                return paddle.nn.functional.interpolate(y, paddle.shape(x)[2:], mode="bilinear")
            return paddle.nn.functional.leaky_relu(y, 0.1)

    return Net()


@pytest.mark.parametrize("act,blocker", [("bilinear", "bilinear_interp.scale"), ("leaky", "leaky_relu.negative_slope")])
def test_what_the_rewrite_avoids_fails_under_onednn_and_deploy_yml_says_so(act: str, blocker: str,
                                                                          tmp_path: Any) -> None:
    net = _conv_then(act)
    net.eval()
    spec = [paddle.static.InputSpec([None, 3, 32, 32], "float32", "image")]
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    with paddle.no_grad():
        want = net(paddle.to_tensor(x)).numpy()
    plain = str(tmp_path / "plain")
    paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True), plain)  # no rewrite
    note = export.onednn_note(plain + ".json")
    assert note["runs"] is False and blocker in note["blocked_by"] and "disable_mkldnn" in note["note"]
    with pytest.raises(AssertionError, match="the default predictor failed"):
        run_default(plain, {"image": x}, str(tmp_path))

    rewritten = str(tmp_path / "rewritten")
    export.save_inference(net, spec, rewritten)
    assert export.onednn_note(rewritten + ".json") == {"runs": True}
    got = run_default(rewritten, {"image": x}, str(tmp_path))[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("mode,align_corners,align_mode", [("bilinear", False, 0), ("bilinear", True, 0),
                                                           ("bilinear", False, 1), ("nearest", False, 0)])
def test_static_resizing_is_paddles_interpolate(mode: str, align_corners: bool, align_mode: int) -> None:
    rng = np.random.default_rng(1)
    for (h, w), kw in [((8, 8), {"size": [32, 32]}), ((5, 7), {"size": [13, 11]}), ((16, 16), {"scale_factor": 2.0}),
                       ((9, 6), {"size": [3, 2]}), ((1, 4), {"size": [4, 8]})]:
        x = paddle.to_tensor(rng.standard_normal((2, 3, h, w)).astype(np.float32))
        want = paddle.nn.functional.interpolate(x, mode=mode, align_corners=align_corners, align_mode=align_mode,
                                                **kw).numpy()
        got = onednn_ops.resize_static(x, (h, w), tuple(want.shape[2:]), onednn_ops._scales(kw.get("scale_factor")),
                                       mode, align_corners, align_mode).numpy()
        np.testing.assert_allclose(got, want, atol=2e-6, rtol=0, err_msg=f"{(h, w)} {kw}")
    if mode == "nearest" and not align_corners:
        x = paddle.to_tensor(rng.standard_normal((1, 2, 5, 3)).astype(np.float32))
        assert onednn_ops._integer_factor(2.0) == 2 and onednn_ops._integer_factor(1.5) is None
        np.testing.assert_array_equal(
            paddle.repeat_interleave(paddle.repeat_interleave(x, 2, axis=2), 2, axis=3).numpy(),
            paddle.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest").numpy())


def test_inference_yml_carries_the_note_when_onednn_cannot_run(tmp_path: Any) -> None:
    from pdxsrv.engine import paddlex_yml

    config = {"project_type": "classification", "Model": "ResNet18", "backbone": None, "labels": ["a", "b"],
              "in_channels": 3, "Transforms": [{"ResizeByShort": {"short_size": 36}, "CenterCrop": {"size": [32, 32]}},
                                               {"Normalize": {"mean": [0.5] * 3, "std": [0.5] * 3}}],
              "onednn": {"runs": False, "blocked_by": ["bilinear_interp.scale"], "note": "call disable_mkldnn()"}}
    with open(paddlex_yml.write(str(tmp_path), config), encoding="utf-8") as f:
        note = yaml.safe_load(f)["pdxsrv_onednn"]
    assert note["blocked_by"] == ["bilinear_interp.scale"] and "run_mode': 'paddle'" in note["note"]
    with open(paddlex_yml.write(str(tmp_path), {**config, "onednn": {"runs": True}}), encoding="utf-8") as f:
        assert "pdxsrv_onednn" not in yaml.safe_load(f)
