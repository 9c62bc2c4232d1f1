"""Do the recommended parameters, as GET /project/task/params answers them, train models that learn?

For each model the API offers and each dataset size: generate a dataset of that many images
(pdxsrv.datasets.synthetic, SIZE px, split 0.2/0.1 as the API splits), take the recommendation exactly
as the server computes it for this machine (`pdxsrv.domain.recipes.recommend`, no pretrained weights:
the from-scratch recipe; with this machine's step costs where `pdxsrv step-costs measure` timed the
model, as a row's `costs_from` and the table's "(here)" say), train with the training job's own loop,
evaluate the best model with the evaluation job's code, and print one line: the recipe's numbers,
whether a loss went NaN, the val metric per evaluation and at the end, the wall time and the estimated
time. Lines are also appended
as JSON to bench/defaults.jsonl, which is committed: the grid takes days on a CPU and runs in pieces on
machines that do not last, and the file is the record of what ran (bench/RESULTS.md's table is made from it).

Each row also records the machine's load average before and after it (the bench shares the machine
with whatever else runs) and the commit it ran. Rows already in the JSONL file are skipped, so the grid
can be run in pieces, and so is a named model whose recommendation is exactly the type's default's (its
row is the default's); `--plan` prints every row's estimated time and the total without training,
`--table` the recorded rows as bench/RESULTS.md's markdown table.

Run by hand (hours for everything on a CPU): python bench/defaults_bench.py [--type T] [--model M]
[--images 50 300 1000] [--size 64] [--plan | --table]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv import machine_costs, system  # noqa: E402
from pdxsrv.datasets.readers import READERS  # noqa: E402
from pdxsrv.datasets.split import split  # noqa: E402
from pdxsrv.datasets.synthetic import make  # noqa: E402
from pdxsrv.domain.params import MODELS  # noqa: E402
from pdxsrv.domain.recipes import Facts, recommend  # noqa: E402
from pdxsrv.engine import inference, loop  # noqa: E402
from pdxsrv.engine.base import DataSpec, EngineError  # noqa: E402

HEADLINE = {"classification": "Acc1", "segmentation": "Mean_IoU", "remote_segmentation": "Mean_IoU",
            "detection": "mAP", "instance_segmentation": "Mask_mAP"}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "defaults.jsonl")


class Recorder(loop.Silent):
    """Keeps every evaluation and whether a loss was not finite."""

    def __init__(self) -> None:
        self.evals: list[tuple[int, float]] = []

    def metric(self, **kv: Any) -> None:
        """Keep the headline metric of an evaluation."""
        value = next(iter(kv["metrics"].values()))
        self.evals.append((kv["epoch"], round(value, 3)))
        print(f"    epoch {kv['epoch']}: {kv['metrics']}", flush=True)


def dataset(kind: str, root: str, images: int, size: int, seed: int = 7, held_out: bool = False) -> DataSpec:
    """A generated dataset, split as the API splits (val 0.2, test 0.1, stratified for classification).

    `held_out`: every image in val instead (a fresh set to evaluate a trained model on, with another seed).
    """
    if not os.path.isdir(root):
        make(kind, root, images=images, size=size, seed=seed)
    found = READERS[kind](root, None).details()
    if held_out:
        parts = {"train": [], "val": sorted(found["file_info"]), "test": []}
    else:
        parts = split(list(found["file_info"]), 0.2, 0.1, 0, found["file_info"] if kind == "classification" else None)
    return DataSpec(root, found["labels"], found["file_info"], parts, int(found.get("bands") or 3))


def recommendation(kind: str, model: str | None, data: DataSpec, size: int) -> dict[str, Any]:
    """What GET /project/task/params answers for this dataset on this machine without pretrained weights."""
    facts = Facts([], [], system.cpu_capacity(), len(data.parts["train"]), len(data.parts["val"]), data.num_classes,
                  float(size), machine_costs.load(machine_costs.default_path()))
    return recommend(kind, model, facts, lambda params: False)


def run(kind: str, model: str | None, data: DataSpec, size: int) -> dict[str, Any]:
    """Train one recommendation and evaluate its best model."""
    answer = recommendation(kind, model, data, size)
    params = answer["train"]
    row: dict[str, Any] = {"type": kind, "model": params["model"], "backbone": params.get("backbone"),
                           "images": len(data.file_info), "train": len(data.parts["train"]),
                           "image_shape": params["image_shape"], "batch_size": params["batch_size"],
                           "learning_rate": params["learning_rate"], "optimizer": params["optimizer"],
                           "num_epochs": params["num_epochs"], "estimate": answer["estimate"]["seconds"],
                           "costs_from": answer["estimate"].get("measured_on")}
    print(f"  {row}", flush=True)
    row["load_before"] = round(os.getloadavg()[0], 2)
    row["commit"] = commit()
    row["cpu"] = cpu()
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as output:
        began = time.perf_counter()
        try:
            loop.train(loop.Run(output, kind, data, params), recorder)
            row["nan"] = False
        except EngineError as exc:
            row["nan"], row["error"] = "nan" in str(exc), str(exc)
        row["seconds"] = round(time.perf_counter() - began)
        best = os.path.join(output, "best_model")
        if os.path.isdir(best):
            report = inference.evaluate_on(inference.load_trained(best), data, {})
            row["metric"] = round(float(report[HEADLINE[kind]]), 3)
    row["evals"] = recorder.evals
    row["load_after"] = round(os.getloadavg()[0], 2)
    if row.get("estimate") and row["seconds"]:
        row["estimate_error"] = round(row["estimate"] / row["seconds"] - 1, 2)
    return row


def cpu() -> str:
    """The machine a row ran on (rows from different sessions ran on different CPUs): model, cores, AVX-512."""
    model, avx = system.cpu_model().partition(", AVX-512")[:2]
    return f"{model}, {os.cpu_count()} cores{', AVX-512' if avx else ''}"


def commit() -> str:
    """The code a row ran: HEAD's short hash, "+" when the work tree's code differs from it (.md files and the
    rows themselves aside)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)*.md",
                                f":(exclude){os.path.relpath(OUT, root)}"],
                               cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + ("+" if dirty else "")


def done_rows() -> set[tuple[str, str, int]]:
    """(type, model or 'default', images) of the rows already recorded."""
    if not os.path.exists(OUT):
        return set()
    with open(OUT, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {(r["type"], r["model_key"], r["requested"]) for r in rows
            if "model_key" in r}


def estimate(kind: str, model: str | None, data: DataSpec, size: int) -> float:
    """The recommendation's estimated seconds, without training."""
    return float(recommendation(kind, model, data, size)["estimate"]["seconds"] or 0)


def same_as_default(kind: str, model: str | None, data: DataSpec, size: int) -> bool:
    """Whether naming this model recommends exactly what the type's default does (its row is the default's)."""
    return model is not None and (recommendation(kind, model, data, size)["train"]
                                  == recommendation(kind, None, data, size)["train"])


def table() -> None:
    """Print the recorded rows as bench/RESULTS.md's markdown table."""
    if not os.path.exists(OUT):
        return
    print("| type | model | images (train) | recipe: size, batch, lr, optimizer, epochs | NaN | val metric by "
          "evaluated epoch | final | actual s | estimated s | error | load before/after | code |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with open(OUT, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    order = list(MODELS)
    rows.sort(key=lambda r: (order.index(r["type"]), not r["default"], r["model"], r["requested"]))
    for r in rows:
        model = r["model"] + (f"-{r['backbone']}" if r.get("backbone") else "") + (" (default)" if r["default"] else "")
        recipe = f"{r['image_shape'][0]}, {r['batch_size']}, {r['learning_rate']}, {r['optimizer']}, {r['num_epochs']}"
        evals = " ".join(f"{v:g}" for _, v in r["evals"])
        error = f"{r['estimate_error']:+.2f}" if "estimate_error" in r else "-"
        here = " (here)" if r.get("costs_from") == "this_machine" else ""  # from this machine's measured costs
        print(f"| {r['type']} | {model} | {r['images']} ({r['train']}) | {recipe} | {'yes' if r['nan'] else 'no'} | "
              f"{HEADLINE[r['type']]} {evals} | **{r.get('metric', r.get('error', '-'))}** | {r['seconds']} | "
              f"{r['estimate']}{here} | {error} | {r['load_before']:g} / {r['load_after']:g} | "
              f"{r.get('commit', '?')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", action="append", choices=sorted(MODELS), help="project types (default: all)")
    parser.add_argument("--model", action="append", help="only these models ('default': the type's own choice)")
    parser.add_argument("--images", type=int, nargs="+", default=[50, 300, 1000])
    parser.add_argument("--size", type=int, default=64, help="generated image side")
    parser.add_argument("--plan", action="store_true", help="print estimated times only")
    parser.add_argument("--table", action="store_true", help="print the recorded rows as a markdown table")
    args = parser.parse_args()
    if args.table:
        table()
        return
    done = done_rows()
    planned = 0.0
    loop.use_device()
    with tempfile.TemporaryDirectory() as work:
        for kind in args.type or list(MODELS):
            models = [None] + [m for m in MODELS[kind] if not m.endswith("_ssld")]
            for model in models:
                if args.model and (model or "default") not in args.model:
                    continue
                for images in args.images:
                    key = (kind, model or "default", images)
                    if key in done:
                        continue
                    data = dataset(kind, os.path.join(work, f"{kind}-{images}"), images, args.size)
                    if same_as_default(kind, model, data, args.size):
                        continue
                    if args.plan:
                        seconds = estimate(kind, model, data, args.size)
                        planned += seconds
                        print(f"{kind:22} {model or 'default':24} {images:5} {seconds / 60:7.1f} min", flush=True)
                        continue
                    print(f"{kind} {model or 'default'} {images} images", flush=True)
                    row = run(kind, model, data, args.size)
                    row.update(default=model is None, model_key=model or "default", requested=images)
                    print(f"  -> {json.dumps(row)}", flush=True)
                    with open(OUT, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                    if row.get("metric") is not None and not math.isfinite(row["metric"]):
                        print("  (metric not finite)", flush=True)
    if args.plan:
        print(f"total {planned / 3600:.1f} h", flush=True)


if __name__ == "__main__":
    main()
