"""Progress latency: from a job's `report.progress()` call to the event reaching an SSE client.

A job started through the workspace's real supervisor reports progress at a fixed rate, each
record carrying the time it was sent; a Server-Sent Events client of `GET /events/stream`
(events are sent once durable, i.e. once folded into pdxsrv's state and fsync'd) notes when each
`job.reported` event arrives. Progress is coalesced (the latest wins), so the latency of an event
is that of the newest report it carries. Baseline printed beside it: the same rate of
`report.progress()` calls timed inside the job (what reporting costs the job itself).
Also measured: how soon a job killed with SIGKILL is recorded as failed.

Usage: python bench/progress_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pdxsrv.supervision import endpoint_for  # noqa: E402
from supervisor.client import Client  # noqa: E402

JOB = textwrap.dedent('''
    import sys, time
    from supervisor import report
    rate, seconds = float(sys.argv[1]), float(sys.argv[2])
    n = int(rate * seconds)
    costs = []
    start = time.time()
    for i in range(n):
        target = start + i / rate
        while time.time() < target:
            time.sleep(min(0.001, max(0.0, target - time.time())))
        t = time.perf_counter()
        report.progress(step=i, sent=time.time())
        costs.append(time.perf_counter() - t)
    costs.sort()
    report.done(call_p50=costs[len(costs) // 2], call_p99=costs[int(len(costs) * 0.99)])
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def follow(url: str, latencies: list[float], done: threading.Event, result: dict) -> None:
    """Read SSE job.reported events; note each progress event's latency and the done() report."""
    with requests.get(url + "/events/stream", params={"type": "job.reported"}, stream=True, timeout=120) as r:
        for line in r.iter_lines(decode_unicode=True):
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])["data"]
            if event["kind"] == "progress":
                latencies.append((time.time() - event["data"]["sent"]) * 1000)
            elif event["kind"] == "done":
                result.update(event["data"])
                done.set()
                return


def run_rate(url: str, client: Client, ws: str, rate: float, seconds: float) -> tuple[list[float], dict]:
    latencies: list[float] = []
    result: dict = {}
    done = threading.Event()
    reader = threading.Thread(target=follow, args=(url, latencies, done, result), daemon=True)
    reader.start()
    time.sleep(0.5)
    job = f"T0001.bench.{int(rate)}"
    client.spawn(job, [sys.executable, "-c", JOB, str(rate), str(seconds)], os.path.join(ws, "jobs", job))
    done.wait(seconds + 60)
    return latencies, result


def failure_delay(ws: str, client: Client) -> float:
    """Seconds from SIGKILL of a job's command to its failed state being in the workspace log."""
    import psutil

    from eventlog import read_records
    from pdxsrv.store import events_dir

    job = "T0002.sleep.1"
    client.spawn(job, [sys.executable, "-c", "import time; time.sleep(600)"], os.path.join(ws, "jobs", job))
    while client.status(job)["state"] != "running":
        time.sleep(0.05)
    time.sleep(0.5)
    (command,) = psutil.Process(client.status(job)["pid"]).children()  # the runner's child is the command
    killed = time.time()
    command.send_signal(signal.SIGKILL)
    while True:
        states = [r for r in read_records(events_dir(ws)) if r.type == "job.state_changed" and r.data["id"] == job]
        if states and states[-1].data["state"] == "failed":
            return states[-1].ts - killed
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="pdxsrv-progress-bench-")
    ws = os.path.join(base, "ws")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pdxsrv", "serve", "--workspace", ws, "--port", str(port),
                               "--log-level", "WARNING"], cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    client = Client(endpoint_for(ws))
    try:
        for _ in range(300):
            try:
                requests.get(url + "/workspace", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        for rate in (10, 1000):
            latencies, result = run_rate(url, client, ws, rate, args.seconds)
            q = statistics.quantiles(latencies, n=100)
            print(f"{rate:>5} progress/s for {args.seconds:.0f} s: {len(latencies)} progress events reached the SSE "
                  f"client; latency p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms (baseline: the report.progress() call "
                  f"itself p50 {result['call_p50'] * 1000:.2f} ms, p99 {result['call_p99'] * 1000:.2f} ms)")
        print(f"a job killed with SIGKILL was recorded as failed after {failure_delay(ws, client) * 1000:.0f} ms")
    finally:
        for job in client.list():
            client.stop(job["job"], grace=1)
        time.sleep(1.5)
        client.shutdown()
        client.close()
        server.terminate()
        server.wait()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
