"""Do estimates follow this machine once its training runs teach them? Reference figures vs learned, against real runs.

Through a real server and supervisor with a step-cost file of its own (absent at the start): for each model,
a generated dataset of IMAGES images, then RUNS trainings of the recommended parameters exactly as
GET /project/task/params answers them. Before each run it records the answer's estimate and whose figures it
came from (`measured_on`: "reference" for the first, "this_machine" once a run of that size finished), and the
wall time from POST train to XTRAINDONE as a client sees it. Prints a line per run and the mean absolute error of
the reference estimates and of the learned ones. With `--between SMALL LARGE MIDDLE` it checks the line
through two sizes instead: per model, the recommendation for a dataset of MIDDLE images is estimated (from
the reference or measured figures), a run on SMALL and one on LARGE images are trained, the MIDDLE
recommendation is estimated again (now from the line through those two runs, whose steps are more than 2x
smaller and larger) and trained, and both estimates are compared with its time. Run by hand on a quiet
machine (minutes), not in CI:

    python bench/learned_estimate_bench.py [--model classification:MobileNetV3_small ...] [--runs 3] [--images 60]
    python bench/learned_estimate_bench.py --between 40 300 125 [--model ...]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.client import Client  # noqa: E402
from pdxsrv.domain.enums import TaskStatus  # noqa: E402
from tests.training_support import project_on_generated_data, supervised_server, wait_trained  # noqa: E402

MODELS = ["classification:MobileNetV3_small", "classification:ShuffleNetV2", "segmentation:FastSCNN"]


def trained_for(c: Client, tid: str) -> float:
    """Train task `tid`; the seconds from POST train to XTRAINDONE."""
    began = time.perf_counter()
    c.train(tid)
    done = wait_trained(c, tid, timeout=3600)
    assert done["task_status"] == TaskStatus.XTRAINDONE, done
    return time.perf_counter() - began


def run_model(c: Client, base: str, kind: str, model: str, runs: int, images: int) -> list[dict[str, Any]]:
    """Train the recommendation for `model` `runs` times; each run's estimate, its source and the time it took."""
    pid = project_on_generated_data(c, base, kind, images=images)
    rows = []
    for number in range(1, runs + 1):
        recommended = c.recommended_params(pid, model_type=model)
        tid = c.create_task(pid, recommended["train"])["tid"]
        load = os.getloadavg()[0]
        took = trained_for(c, tid)
        estimate = recommended["estimate"]
        rows.append({"type": kind, "model": model, "run": number, "from": estimate["measured_on"],
                     "estimated": estimate["seconds"], "took": round(took, 1),
                     "error": round(estimate["seconds"] / took - 1, 2), "load": round(load, 2)})
        print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    return rows


def run_between(c: Client, base: str, kind: str, model: str, sizes: list[int]) -> dict[str, Any]:
    """Estimate the MIDDLE recommendation before and after runs on SMALL and LARGE datasets; then train it."""
    small, large, middle = (project_on_generated_data(c, base, kind, images=n) for n in sizes)
    before = c.recommended_params(middle, model_type=model)["estimate"]
    for pid in (small, large):
        trained_for(c, c.create_task(pid, c.recommended_params(pid, model_type=model)["train"])["tid"])
    after = c.recommended_params(middle, model_type=model)
    load = os.getloadavg()[0]
    took = trained_for(c, c.create_task(middle, after["train"])["tid"])
    row = {"type": kind, "model": model, "images": sizes[2], "before": before["seconds"], "from": before["measured_on"],
           "line": after["estimate"]["seconds"], "took": round(took, 1),
           "error_before": round(before["seconds"] / took - 1, 2),
           "error_line": round(after["estimate"]["seconds"] / took - 1, 2), "load": round(load, 2),
           "basis": after["estimate"]["basis"]}
    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="type:model (repeatable; default " + ", ".join(MODELS) + ")")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--between", type=int, nargs=3, metavar=("SMALL", "LARGE", "MIDDLE"),
                        help="check the line through runs of two sizes on a third")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pdxsrv-learned-") as work:
        base = pathlib.Path(work)
        with supervised_server(base, "--step-costs", str(base / "step_costs.json")) as srv:
            c = Client(srv.url)
            for spec in args.model or MODELS:
                kind, _, model = spec.partition(":")
                if args.between:
                    run_between(c, work, kind, model, args.between)
                else:
                    rows += run_model(c, work, kind, model, args.runs, args.images)
    for source in ("reference", "this_machine"):
        errors = [abs(r["error"]) for r in rows if r["from"] == source]
        if errors:
            print(f"{source}: {len(errors)} runs, mean |error| {sum(errors) / len(errors):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
