"""Do the demos train a useful model with their own parameters? Through a real server: download, load, train, evaluate.

For each type asked: POST /demo download (generated, no mirror) -> load -> wait for the import -> train with
the loaded task's parameters unchanged -> evaluate; prints the training wall time (POST train to XTRAINDONE as
a client sees it) and the evaluation's headline metric. Run by hand (minutes per type on a CPU), not in CI:

    python bench/demo_bench.py --type classification --type segmentation [--workspace DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.client import Client  # noqa: E402
from pdxsrv.domain.enums import DatasetStatus, DownloadStatus, TaskStatus  # noqa: E402
from tests.conftest import Server  # noqa: E402

HEADLINE = {"classification": "Acc1", "detection": "mAP", "segmentation": "Mean_IoU",
            "instance_segmentation": "Mask_mAP", "remote_segmentation": "Mean_IoU"}


def wait(predicate, timeout: float, every: float = 1.0):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError("gave up waiting")


def run(c: Client, kind: str) -> dict[str, object]:
    """Download, load, train and evaluate one type's demo."""
    began = time.perf_counter()
    c.demo("download", kind)
    attr = wait(lambda: (a := c.demo_status(kind)["attr"])["status"] in (1, 3) and a, 300, 0.2)
    assert attr["status"] == DownloadStatus.XDDECOMPRESSED, attr
    prepared = time.perf_counter() - began
    loaded = c.demo("load", kind)
    wait(lambda: c.dataset(loaded["did"])["dataset_status"] == DatasetStatus.XSPLITED, 300, 0.2)
    tid = loaded["tid"]
    params = c.task_params(tid)["train"]
    began = time.perf_counter()
    c.train(tid)
    done = wait(lambda: (t := c.task(tid))["task_status"] != TaskStatus.XTRAINING and t, 24 * 3600)
    trained = time.perf_counter() - began
    assert done["task_status"] == TaskStatus.XTRAINDONE, done
    c.evaluate(tid)
    result = wait(lambda: (e := c.evaluation(tid))["evaluate_status"] != TaskStatus.XEVALUATING and e, 3600)
    key = HEADLINE[kind]
    return {"type": kind, "model": params["model"], "epochs": params["num_epochs"],
            "image_shape": params["image_shape"], "batch_size": params["batch_size"],
            "prepare_s": round(prepared, 1), "train_s": round(trained, 1), key: round(result["result"][key], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", action="append", choices=sorted(HEADLINE), required=True)
    parser.add_argument("--workspace", help="workspace to use (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        server = Server(args.workspace or os.path.join(scratch, "ws"), supervise=True)
        try:
            c = Client(server.url)
            print(f"cpu threads: {os.cpu_count()}", flush=True)
            for kind in args.type:
                print(run(c, kind), flush=True)
        finally:
            server.stop()
            server.shutdown_supervisor()


if __name__ == "__main__":
    main()
