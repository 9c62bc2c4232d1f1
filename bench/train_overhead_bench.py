"""What running a training through pdxsrv costs over calling the engine from a bare script.

Both train the same task on the same imported, split dataset with the same parameters:
* bare: `python -c "...loop.train(...)"` — wall time of the whole process (interpreter, paddle
  import, training, checkpoints);
* pdxsrv: POST /project/task/train on a running server with its supervisor, until GET
  /project/task shows XTRAINDONE (polled every 50 ms) — job spawn, reporting through the journal
  and ZeroMQ, events, and the same training.
They alternate (bare, pdxsrv, bare, pdxsrv, ...); the ratio is of the medians. Target <= 1.03.
Then one more training is killed with SIGKILL mid-epoch: the time until GET /project/task shows
XTRAINFAIL (target <= 3 s) is printed too, and the CPU time pdxsrv and the supervisor spent
during each pdxsrv round (the part of the overhead that competes with training for cores).

Usage: python bench/train_overhead_bench.py [--rounds 3] [--images 400] [--epochs 3] [--size 96]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.client import Client  # noqa: E402
from pdxsrv.datasets.split import DEFAULT_SEED  # noqa: E402
from tests.conftest import Server  # noqa: E402
from tests.training_support import job_process, project_on_generated_data, supervised_server  # noqa: E402

POLL = 0.2
BARE = """
import json, sys
from pdxsrv.engine import data, loop
args = json.loads(sys.argv[1])
spec = data.load(args["dataset_dir"], "classification", args["split"])
loop.train(loop.Run(args["output"], "classification", spec, args["params"]))
"""


def bare(dataset_dir: str, split: dict, params: dict, output: str) -> float:
    """Seconds of a bare-script training process."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE, json.dumps({"dataset_dir": dataset_dir, "split": split,
                                                           "params": params, "output": output})], check=True)
    return time.perf_counter() - began


def service_cpu(server_pid: int) -> float:
    """CPU seconds used so far by pdxsrv and the supervisor (what pdxsrv adds besides the job itself)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if proc.info["pid"] == server_pid or "-m supervisor" in cmd:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


def through_pdxsrv(c: Client, tid: str) -> float:
    """Seconds from POST train to XTRAINDONE (polled every POLL seconds, as a UI would, more often)."""
    began = time.perf_counter()
    c.train(tid)
    while True:
        status = c.task(tid)["task_status"]
        if status != 3:
            break
        time.sleep(POLL)
    spent = time.perf_counter() - began
    if status != 4:
        raise SystemExit(f"training ended with status {status}: {c.task(tid)['message']}")
    return spent


def kill_to_fail(server: Server, c: Client, tid: str) -> float:
    """Seconds from a SIGKILL of the training process to XTRAINFAIL over HTTP."""
    c.train(tid)
    while not (c.metrics(tid, "train")["train_log"]["train_metrics"] or {}).get("Step"):
        time.sleep(0.05)
    victim = job_process(server, tid)
    began = time.perf_counter()
    victim.kill()
    while c.task(tid)["task_status"] != 10:
        time.sleep(0.01)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    params = {"model": "MobileNetV3_small", "num_epochs": args.epochs, "batch_size": 8, "learning_rate": 0.01,
              "image_shape": [args.size, args.size], "save_interval_epochs": 1, "pretrain_weights": None}
    with tempfile.TemporaryDirectory() as base:
        with supervised_server(pathlib.Path(base)) as server:
            c = Client(server.url)
            pid = project_on_generated_data(c, base, "classification", images=args.images, val=0.2, test=0.0)
            did = c.project(pid)["attr"]["did"]
            dataset_dir = c.dataset(did)["attr"]["path"]
            split = {"val_split": 0.2, "test_split": 0.0, "seed": DEFAULT_SEED}  # what the API split used
            tid = c.create_task(pid, params)["tid"]
            times: dict[str, list[float]] = {"bare": [], "pdxsrv": []}
            for i in range(args.rounds):
                times["bare"].append(bare(dataset_dir, split, params, os.path.join(base, f"bare{i}")))
                cpu = service_cpu(server.proc.pid)
                times["pdxsrv"].append(through_pdxsrv(c, tid))
                cpu = service_cpu(server.proc.pid) - cpu
                print(f"round {i + 1}: bare {times['bare'][-1]:.2f} s, pdxsrv {times['pdxsrv'][-1]:.2f} s "
                      f"(pdxsrv + supervisor used {cpu:.2f} CPU s meanwhile)", flush=True)
            print(f"kill -9 of a training -> XTRAINFAIL over HTTP: {kill_to_fail(server, c, tid):.2f} s (target <= 3)")
    ratio = statistics.median(times["pdxsrv"]) / statistics.median(times["bare"])
    print(f"median bare {statistics.median(times['bare']):.2f} s, pdxsrv {statistics.median(times['pdxsrv']):.2f} s; "
          f"ratio {ratio:.3f} (target <= 1.03)")


if __name__ == "__main__":
    main()
