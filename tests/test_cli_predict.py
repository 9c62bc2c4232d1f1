"""`pdxsrv predict`: runtimes, clear refusals, per-image errors (every family's predictions: test_export_onednn)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")

from pdxsrv.engine import export, onnx_export  # noqa: E402
from tests.test_export_onednn import build_trained, predict_cli  # noqa: E402


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A classification model exported as a paddle program and as ONNX, and its dataset images."""
    base = tmp_path_factory.mktemp("predict")
    trained, spec, sample = build_trained("classification", {"model": "MobileNetV3_small", "image_shape": [32, 32]},
                                          32, str(base / "data"))
    (base / "paddle").mkdir()
    (base / "onnx").mkdir()
    export.export_trained(trained, str(base / "paddle"), sample)
    onnx_export.export_onnx(trained, str(base / "onnx"), sample)
    images = [os.path.join(spec.root, name) for name in spec.parts["val"]]
    # PaddleX's onnxruntime engine reads inference.yml beside inference.onnx (the same file as the paddle export's)
    assert sorted(os.listdir(base / "onnx")) == ["deploy.yml", "inference.onnx", "inference.yml"]
    assert (base / "onnx" / "inference.yml").read_text() == (base / "paddle" / "inference.yml").read_text()
    return {"paddle": str(base / "paddle"), "onnx": str(base / "onnx"), "images": images, "base": base}


def test_both_runtimes_give_the_same_answer_and_draw(exports: dict[str, Any]) -> None:
    out = str(exports["base"] / "drawn")
    lines, done = predict_cli(exports["paddle"], exports["images"], out)
    assert done.returncode == 0, done.stderr[-2000:]
    onnx_lines, done = predict_cli(exports["onnx"], exports["images"], None)  # deploy.yml names inference.onnx
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line["image"] for line in lines] == exports["images"]
    assert [line["category_id"] for line in lines] == [line["category_id"] for line in onnx_lines]
    np.testing.assert_allclose([line["score"] for line in lines], [line["score"] for line in onnx_lines], atol=1e-4)
    assert all(os.path.isfile(line["visual"]) for line in lines) and "visual" not in onnx_lines[0]
    assert len({line["visual"] for line in lines}) == len(lines)


def test_an_unreadable_image_is_one_error_line_and_exit_1(exports: dict[str, Any]) -> None:
    bad = exports["base"] / "not-an-image.jpg"
    bad.write_text("hello")
    lines, done = predict_cli(exports["paddle"], [str(bad), exports["images"][0], str(bad) + ".missing"], None)
    assert done.returncode == 1
    assert [sorted(line) for line in lines][1] == ["category", "category_id", "image", "score", "topk"]
    assert "cannot be decoded as an image" in lines[0]["error"] and "does not exist" in lines[2]["error"]


@pytest.mark.parametrize("case,runtime,says", [
    ("no folder", None, "is not a folder: give the save_dir of an export"),
    ("no deploy.yml", None, "deploy.yml does not exist: give the folder an export wrote"),
    ("paddle as onnx", "onnx", "holds a paddle program (inference.json), not inference.onnx: use --runtime paddle"),
    ("onnx as paddle", "paddle", "holds an ONNX model (inference.onnx): use --runtime onnx"),
])
def test_a_model_folder_that_cannot_be_used_says_what_to_do(exports: dict[str, Any], case: str, runtime: str | None,
                                                            says: str) -> None:
    folder = {"no folder": str(exports["base"] / "nowhere"), "no deploy.yml": str(exports["base"]),
              "paddle as onnx": exports["paddle"], "onnx as paddle": exports["onnx"]}[case]
    lines, done = predict_cli(folder, exports["images"][:1], None, *(["--runtime", runtime] if runtime else []))
    assert (done.returncode, lines) == (2, [])
    assert done.stderr.startswith("pdxsrv predict: cannot load the model: ") and says in done.stderr, done.stderr
