"""Do our exports load in PaddleX 3 and predict what our predictor predicts? Train briefly, export, compare.

Two environments. This project's (paddle 3.3.1, numpy 1.23) trains a classification (ResNet18),
a segmentation (PPLiteSeg) and a detection model (YOLOv3 on MobileNetV3) for a few epochs on
generated data with the engine's loop, exports each with `engine.export.export_trained` (which
writes PaddleX's `inference.yml` where `engine.paddlex_yml` says so) and records our predictor's
answer per image (`engine.inference.predict`: top class and probabilities, mask, boxes). PaddleX 3
needs numpy 2, so it lives in a venv of its own; this script runs itself there (`--paddlex-side`,
which imports nothing from pdxsrv), one process per export and run mode, to call
`paddlex.create_model(model_name=<inference.yml Global.model_name>, model_dir=<export>).predict(path)`
on the same images: with PaddleX's default CPU options (oneDNN) and with `run_mode: paddle` (no
oneDNN, as our predictor runs); the classification model is also exported to ONNX and run with
`engine="onnxruntime"`. Then it compares: same top class and ranking, probabilities; masks
identical, else the pixel agreement; same boxes, paired by class and IoU (`match_boxes`: boxes of
equal score may come in either order), then their scores and coordinates.

It exits 0 when every export agrees in every mode, PaddleX's default (oneDNN) included.

    python3 -m venv /tmp/pdx3
    /tmp/pdx3/bin/pip install paddlepaddle==3.3.1 paddlex==3.7.2 pypdfium2 opencv-contrib-python
    /tmp/trial4/bin/python bench/paddlex3_check.py --paddlex-python /tmp/pdx3/bin/python [--case ...] [--keep DIR]

About 5 minutes on 2 cores, most of it training the detector. Nothing is downloaded: create_model
gets our model_dir.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

CASES: dict[str, dict[str, Any]] = {
    "classification": {"images": 60, "size": 64,
                       "params": {"model": "ResNet18", "num_epochs": 8, "batch_size": 8, "learning_rate": 0.05,
                                  "lr_policy": "Cosine", "image_shape": [32, 32], "save_interval_epochs": 8,
                                  "brightness": False, "contrast": False, "saturation": False, "hue": False}},
    "segmentation": {"images": 30, "size": 64,
                     "params": {"model": "PPLiteSeg", "num_epochs": 6, "batch_size": 4, "learning_rate": 0.01,
                                "optimizer": "Adam", "image_shape": [64, 64], "save_interval_epochs": 6}},
    "detection": {"images": 24, "size": 128, "threshold": 0.02,
                  "params": {"model": "YOLOv3", "backbone": "MobileNetV3", "num_epochs": 8, "batch_size": 6,
                             "learning_rate": 0.001, "optimizer": "Adam", "warmup_steps": 10, "warmup_start_lr": 0.0,
                             "image_shape": [128, 128], "save_interval_epochs": 8, "use_mixup": False,
                             "expand_image": False}},
}
RUN_MODES = {"default": None, "paddle": {"run_mode": "paddle"}}
ONNX_MODE = "onnxruntime"  # the classification ONNX export, run by create_model(..., engine="onnxruntime")
IOU_MATCH = 0.99  # a PaddleX box is ours when it has our box's class and overlaps it this much


class Quiet:
    """Drops the loop's reports."""

    def progress(self, **kv: object) -> None:
        """Drop."""

    def metric(self, **kv: object) -> None:
        """Drop."""

    def log(self, message: str, level: str = "info") -> None:
        """Drop."""


def clip(rows: list[list[float]], size: tuple[int, int]) -> np.ndarray:
    """Boxes [n, 6] clipped to the image, empty ones dropped: what PaddleX's detection postprocess does."""
    boxes = np.array(rows, np.float64).reshape(-1, 6)
    height, width = size
    boxes[:, 2:6] = np.clip(boxes[:, 2:6], 0, [width, height, width, height])
    return boxes[(boxes[:, 4] > boxes[:, 2]) & (boxes[:, 5] > boxes[:, 3])]


def our_side(work: str, kinds: list[str]) -> list[dict[str, Any]]:
    """Train, export and predict with our engine; the cases for the PaddleX side."""
    from pdxsrv.datasets import readers, synthetic
    from pdxsrv.engine import augment, checkpoint, export, inference, loop
    from pdxsrv.engine.base import DataSpec

    jobs = []
    for kind in kinds:
        case = CASES[kind]
        root = os.path.join(work, kind, "data")
        synthetic.make(kind, root, images=case["images"], size=case["size"], seed=2)
        found = readers.READERS[kind](root, None).details()
        images = sorted(found["file_info"])
        data = DataSpec(root, found["labels"], found["file_info"],
                        {"train": images[:-6], "val": images[-6:], "test": []}, found["bands"])
        began = time.perf_counter()
        output = os.path.join(work, kind, "output")
        loop.train(loop.Run(output, kind, data, case["params"]), Quiet())
        trained = inference.load_trained(os.path.join(output, checkpoint.BEST))
        sample = trained.kind.sample(data, data.parts["val"][0], False, np.random.default_rng(0), case["params"])
        folder = os.path.join(work, kind, "export")
        os.makedirs(folder)
        export.export_trained(trained, folder, sample)
        if kind == "classification":  # and as ONNX, with the inference.yml PaddleX's onnxruntime engine reads
            from pdxsrv.engine import onnx_export

            os.makedirs(os.path.join(work, kind, "onnx"))
            onnx_export.export_onnx(trained, os.path.join(work, kind, "onnx"), sample)
        print(f"{kind}: trained {case['params']['num_epochs']} epochs and exported in "
              f"{time.perf_counter() - began:.0f} s; files {sorted(os.listdir(folder))}", flush=True)
        paths = [os.path.join(root, image) for image in images]
        ours = os.path.join(work, kind, "ours.npz")
        threshold = case.get("threshold")
        predictions = [inference.predict(trained, path, {"score_thresh": threshold}) for path in paths]
        if kind == "classification":
            probabilities = np.zeros((len(paths), len(data.labels)))
            for row, p in zip(probabilities, predictions):
                for item in p.result["topk"]:
                    row[item["category_id"]] = item["score"]
            np.savez(ours, top=np.array([p.result["category_id"] for p in predictions]), probabilities=probabilities)
            jobs.append({"kind": kind, "folder": "export", "model_dir": folder, "images": paths, "ours": ours})
            jobs.append({"kind": kind, "folder": "onnx", "model_dir": os.path.join(work, kind, "onnx"),
                         "images": paths, "ours": ours, "modes": [ONNX_MODE]})
            continue
        if kind == "detection":
            sizes = [augment.read_rgb(path).shape[:2] for path in paths]
            np.savez(ours, **{f"b{i}": clip([[o["category_id"], o["score"], *o["bbox"]] for o in p.result["objects"]],
                                            size) for i, (p, size) in enumerate(zip(predictions, sizes))})
            jobs.append({"kind": kind, "folder": "export", "model_dir": folder, "images": paths, "ours": ours,
                         "threshold": threshold})
            continue
        np.savez(ours, **{f"m{i}": p.extra["mask"] for i, p in enumerate(predictions)})
        jobs.append({"kind": kind, "folder": "export", "model_dir": folder, "images": paths, "ours": ours})
    return jobs


def paddlex_side(jobs_file: str, number: int, mode: str) -> None:
    """Run in PaddleX 3's venv: create_model + predict for one job in one run mode; the answer beside the jobs."""
    import paddlex
    import yaml

    with open(jobs_file, encoding="utf-8") as f:
        job = json.load(f)[number]
    out = os.path.join(os.path.dirname(jobs_file), f"paddlex-{number}-{mode}.npz")
    with open(os.path.join(job["model_dir"], "inference.yml"), encoding="utf-8") as f:
        name = yaml.safe_load(f)["Global"]["model_name"]
    answer = {"job": number, "mode": mode, "model_name": name, "paddlex": paddlex.__version__, "out": out}
    try:
        engine = {"engine": ONNX_MODE} if mode == ONNX_MODE else {"engine_config": RUN_MODES[mode]}
        model = paddlex.create_model(model_name=name, model_dir=job["model_dir"], device="cpu", **engine)
        options = {"threshold": job["threshold"]} if job["kind"] == "detection" else {}
        results = [res for path in job["images"] for res in model.predict(path, **options)]
        if job["kind"] == "detection":
            np.savez(out, **{f"b{i}": np.array([[b["cls_id"], b["score"], *b["coordinate"]] for b in r["boxes"]],
                                               np.float64).reshape(-1, 6) for i, r in enumerate(results)})
        elif job["kind"] == "classification":
            np.savez(out, ids=np.array([np.ravel(r["class_ids"]) for r in results]),
                     scores=np.array([np.ravel(r["scores"]) for r in results]))
        else:
            np.savez(out, **{f"m{i}": np.asarray(r["pred"])[0] for i, r in enumerate(results)})
    except Exception as exc:  # report what PaddleX says
        answer["error"] = f"{type(exc).__name__}: {str(exc)[-300:]}"
    with open(out + ".json", "w", encoding="utf-8") as f:
        json.dump(answer, f)


def ask_paddlex(python: str, jobs_file: str, number: int, mode: str) -> dict[str, Any]:
    """One PaddleX run in its own process (PaddleX's oneDNN path can crash it); its answer."""
    out = os.path.join(os.path.dirname(jobs_file), f"paddlex-{number}-{mode}.npz")
    done = subprocess.run([python, os.path.abspath(__file__), "--paddlex-side", jobs_file, "--job", str(number),
                           "--mode", mode], env={**os.environ, "PYTHONPATH": ""}, capture_output=True, text=True)
    if os.path.isfile(out + ".json"):
        with open(out + ".json", encoding="utf-8") as f:
            return json.load(f)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line][-1:] or ["(nothing)"]
    return {"job": number, "mode": mode, "model_name": "?", "paddlex": "?",
            "error": f"PaddleX's process died (exit {done.returncode}): {said[0].strip()[:200]}"}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` [n, 4] with every box of `b` [m, 4] (x1, y1, x2, y2): [n, m]."""
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-12)


def match_boxes(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, np.ndarray, float]:
    """(boxes matched, [largest score, largest coordinate difference] of the pairs, their smallest IoU).

    Rows are [class, score, x1, y1, x2, y2]. Boxes pair up by class and overlap, each of ours (highest
    score first) with the unpaired box of theirs of its class it overlaps most, at IoU >= IOU_MATCH: the
    two sides may list boxes of equal score in either order.
    """
    free = np.ones(len(theirs), bool)
    gaps, smallest, matched = np.zeros(2), 1.0, 0
    overlap = iou(ours[:, 2:6], theirs[:, 2:6]) if len(ours) and len(theirs) else np.zeros((len(ours), len(theirs)))
    for i in np.argsort(-ours[:, 1], kind="stable"):
        candidates = np.where(free & (theirs[:, 0] == ours[i, 0]), overlap[i], -1.0)
        j = int(np.argmax(candidates)) if len(candidates) else -1
        if j < 0 or candidates[j] < IOU_MATCH:
            continue
        free[j], matched, smallest = False, matched + 1, min(smallest, float(candidates[j]))
        gaps = np.maximum(gaps, [abs(ours[i, 1] - theirs[j, 1]), np.abs(ours[i, 2:] - theirs[j, 2:]).max()])
    return matched, gaps, smallest


def agreement(job: dict[str, Any], answer: dict[str, Any]) -> tuple[bool, str]:
    """(whether PaddleX's answer is ours, the figures) for one job and run mode."""
    if "error" in answer:
        return False, f"PaddleX failed: {answer['error']}"
    ours, theirs = np.load(job["ours"]), np.load(answer["out"])
    if job["kind"] == "classification":
        same = int(np.sum(ours["top"] == theirs["ids"][:, 0]))
        ranked = np.argsort(-ours["probabilities"], axis=1, kind="stable")[:, :theirs["ids"].shape[1]]
        theirs_p = np.zeros_like(ours["probabilities"])  # the program ends in softmax: PaddleX's scores
        np.put_along_axis(theirs_p, theirs["ids"].astype(np.int64), theirs["scores"], axis=1)
        gap = np.abs(theirs_p - ours["probabilities"]).max()
        return same == len(ours["top"]), (
            f"same top class on {same}/{len(ours['top'])} images, same ranking on "
            f"{int(np.all(ranked == theirs['ids'], axis=1).sum())}, PaddleX scores - our probabilities "
            f"<= {gap:.1e} (images per our top class: {np.bincount(ours['top']).tolist()})")
    if job["kind"] == "detection":
        pairs = [(ours[k], theirs[k]) for k in ours.files]
        found = [match_boxes(a, b) for a, b in pairs]
        same = sum(m == len(a) == len(b) for (m, _, _), (a, b) in zip(found, pairs))
        gap = np.max([g for _, g, _ in found], axis=0) if found else np.zeros(2)
        return same == len(pairs) and gap[1] < 0.01, (
            f"same boxes and classes (matched by class and IoU >= {IOU_MATCH}) on {same}/{len(pairs)} images "
            f"({sum(len(a) for a, _ in pairs)} boxes ours, {sum(len(b) for _, b in pairs)} PaddleX's, score > "
            f"{job['threshold']}); smallest IoU {min([s for _, _, s in found], default=1.0):.6f}, largest score "
            f"difference {gap[0]:.1e}, coordinate {gap[1]:.1e} px")
    masks = [(ours[k], theirs[k]) for k in ours.files]
    identical = sum(a.shape == b.shape and np.array_equal(a, b) for a, b in masks)
    equal = sum(int(np.sum(a == b)) for a, b in masks if a.shape == b.shape)
    classes = sorted(set(np.concatenate([a.ravel() for a, _ in masks]).tolist()))
    return identical == len(masks), (f"identical masks {identical}/{len(masks)}, pixel agreement "
                                     f"{equal / sum(a.size for a, _ in masks):.6f} (classes in our masks: {classes})")


def compare(jobs: list[dict[str, Any]], answers: list[dict[str, Any]]) -> bool:
    """Print one line per job and run mode; True when every export agrees in every mode (oneDNN default included)."""
    agreed = True
    for answer in answers:
        job = jobs[answer["job"]]
        ok, figures = agreement(job, answer)
        print(f"{job['kind']:14s} {job['folder']:6s} {answer['model_name']:22s} {answer['mode']:11s} {figures}")
        agreed = agreed and ok
    return agreed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paddlex-python", default="/tmp/pdx3/bin/python", help="the PaddleX 3 venv's python")
    parser.add_argument("--paddlex-side", metavar="JOBS", help=argparse.SUPPRESS)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=sorted([*RUN_MODES, ONNX_MODE]), help=argparse.SUPPRESS)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and leave it there")
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    args = parser.parse_args()
    if args.paddlex_side:
        paddlex_side(args.paddlex_side, args.job, args.mode)
        return
    work = args.keep or tempfile.mkdtemp(prefix="paddlex3-check-")
    os.makedirs(work, exist_ok=True)
    try:
        jobs = our_side(work, args.case or list(CASES))
        jobs_file = os.path.join(work, "jobs.json")
        with open(jobs_file, "w", encoding="utf-8") as f:
            json.dump(jobs, f)
        began = time.perf_counter()
        answers = [ask_paddlex(args.paddlex_python, jobs_file, number, mode)
                   for number in range(len(jobs)) for mode in jobs[number].get("modes", RUN_MODES)]
        version = next((a["paddlex"] for a in answers if a["paddlex"] != "?"), "?")
        print(f"PaddleX {version} side: {time.perf_counter() - began:.0f} s")
        agreed = compare(jobs, answers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if agreed else 1)


if __name__ == "__main__":
    main()
