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
oneDNN, as our predictor runs). Then it compares: same top class and ranking, probabilities;
masks identical, else the pixel agreement; same boxes (classes, scores, coordinates).

It exits 0 when every export agrees in run_mode paddle.

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
        model = paddlex.create_model(model_name=name, model_dir=job["model_dir"], device="cpu",
                                     engine_config=RUN_MODES[mode])
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
        same = [a for a, b in pairs if a.shape == b.shape and np.array_equal(a[:, 0], b[:, 0])]
        gaps = [np.abs(a - b)[:, 1:].max(axis=0, initial=0) for a, b in pairs if a.shape == b.shape]
        gap = np.max(gaps, axis=0) if gaps else np.zeros(5)
        return len(same) == len(pairs) and gap[1:].max() < 0.01, (
            f"same boxes and classes on {len(same)}/{len(pairs)} images ({sum(len(a) for a, _ in pairs)} boxes "
            f"ours, {sum(len(b) for _, b in pairs)} PaddleX's, score > {job['threshold']}); largest score "
            f"difference {gap[0]:.1e}, coordinate {gap[1:].max():.1e} px")
    masks = [(ours[k], theirs[k]) for k in ours.files]
    identical = sum(a.shape == b.shape and np.array_equal(a, b) for a, b in masks)
    equal = sum(int(np.sum(a == b)) for a, b in masks if a.shape == b.shape)
    classes = sorted(set(np.concatenate([a.ravel() for a, _ in masks]).tolist()))
    return identical == len(masks), (f"identical masks {identical}/{len(masks)}, pixel agreement "
                                     f"{equal / sum(a.size for a, _ in masks):.6f} (classes in our masks: {classes})")


def compare(jobs: list[dict[str, Any]], answers: list[dict[str, Any]]) -> bool:
    """Print one line per job and run mode; True when every export PaddleX should run agrees in run_mode paddle."""
    agreed = True
    for answer in answers:
        job = jobs[answer["job"]]
        ok, figures = agreement(job, answer)
        print(f"{job['kind']:14s} {answer['model_name']:22s} {answer['mode']:8s} {figures}")
        if answer["mode"] == "paddle":
            agreed = agreed and ok
    return agreed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paddlex-python", default="/tmp/pdx3/bin/python", help="the PaddleX 3 venv's python")
    parser.add_argument("--paddlex-side", metavar="JOBS", help=argparse.SUPPRESS)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=sorted(RUN_MODES), help=argparse.SUPPRESS)
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
                   for number in range(len(jobs)) for mode in RUN_MODES]
        version = next((a["paddlex"] for a in answers if a["paddlex"] != "?"), "?")
        print(f"PaddleX {version} side: {time.perf_counter() - began:.0f} s")
        agreed = compare(jobs, answers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if agreed else 1)


if __name__ == "__main__":
    main()
