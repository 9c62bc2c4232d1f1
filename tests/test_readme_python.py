"""The README's Python examples run as written and print what pdxsrv's own predictor says.

Convention (docs/design-notes.md, "README Python examples that run"): every ```python block of the
README is preceded by one of
* `<!-- run with an export: KIND FORMAT -->` (KIND: classification; FORMAT: infer or onnx): the test
  exports an (untrained) model of that kind and format, puts it where the block says
  (`/tmp/pdxsrv/exports/t1` for infer, `/tmp/pdxsrv/exports/t1-onnx` for onnx; nothing else is changed),
  runs the block with `python` in a folder holding `image.jpg` (a picture of the export's dataset), and
  the block must exit 0 and print `LABEL PROBABILITY` as its last line, the predictor's top class;
* `<!-- not run: REASON -->`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_readme_examples import README, blocks

RUN = re.compile(r"<!-- run with an export: (\w+) (infer|onnx) -->")
FOLDERS = {"onnx": "/tmp/pdxsrv/exports/t1-onnx", "infer": "/tmp/pdxsrv/exports/t1"}  # longest first
PARAMS = {"classification": ({"model": "MobileNetV3_small", "image_shape": [32, 32]}, 32)}


def python_blocks() -> list[tuple[int, str, str | None, str | None]]:
    """(first line, code, the export it runs with as 'KIND FORMAT' or None, not-run reason) of each python block."""
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for first, language, code, reason in blocks(text):
        if language != "python":
            continue
        previous = next((lines[j] for j in range(first - 3, -1, -1) if lines[j].strip()), "")
        run = RUN.search(previous)
        found.append((first, "\n".join(code), " ".join(run.groups()) if run else None, reason))
    return found


def test_every_python_block_runs_or_says_why_not() -> None:
    found = python_blocks()
    assert len([b for b in found if b[2]]) >= 2  # paddle.inference and ONNX Runtime
    for first, _, run, reason in found:
        assert run or reason, f"README.md line {first}: a python block needs <!-- run with an export: ... --> or " \
                              "<!-- not run: REASON -->"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The exports the blocks ask for (one model per kind, exported in each format) and the predictor's answer."""
    pytest.importorskip("paddle")
    from pdxsrv.engine import export, onnx_export
    from tests.test_export_onednn import build_trained

    base = tmp_path_factory.mktemp("readme-python")
    out: dict[str, Any] = {}
    for kind in sorted({b[2].split()[0] for b in python_blocks() if b[2]}):
        params, size = PARAMS[kind]
        trained, spec, sample = build_trained(kind, params, size, str(base / kind / "data"))
        image = os.path.join(spec.root, spec.parts["val"][0])
        for fmt, write in (("infer", export.export_trained), ("onnx", onnx_export.export_onnx)):
            folder = base / kind / fmt
            folder.mkdir()
            write(trained, str(folder), sample)
            out[f"{kind} {fmt}"] = str(folder)
        out[kind] = (image, trained.kind.predict(trained.model, image, spec, trained.meta["params"], {}).result)
    return out


@pytest.mark.parametrize("first,code,run", [(b[0], b[1], b[2]) for b in python_blocks() if b[2]],
                         ids=[f"line{b[0]}" for b in python_blocks() if b[2]])
def test_the_python_examples_run_as_written(first: int, code: str, run: str, exported: dict[str, Any],
                                            tmp_path: Path) -> None:
    kind, fmt = run.split()
    assert FOLDERS[fmt] in code, f"README.md line {first}: the block should read the export at {FOLDERS[fmt]}"
    for name, path in FOLDERS.items():
        code = code.replace(path, exported[f"{kind} {name}"])
    image, predicted = exported[kind]
    shutil.copy(image, tmp_path / "image.jpg")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README.md line {first}:\n{done.stderr[-3000:]}"
    label, probability = done.stdout.splitlines()[-1].rsplit(" ", 1)
    assert label == predicted["category"], (first, done.stdout, predicted)
    assert abs(float(probability) - predicted["score"]) < 1e-4, (first, done.stdout, predicted)
