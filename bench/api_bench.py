"""API benchmark, each figure against a baseline measured in the same run.

(a) durable POST /dataset per second with 64 concurrent clients, vs a Tornado hello-world POST
    handler (no disk, no validation) served the same way on the same machine;
(b) GET /project/task latency p50/p99 with 100k tasks in the workspace: one project's tasks
    (the target) and, for reference, the whole list; with the server's RSS.

The load generator is a separate process — wrk with one thread and 64 connections where it is
installed (`apt-get install wrk`), else Tornado's async HTTP client — so the server under test has
one of the two cores to itself.

Usage: python bench/api_bench.py [--requests 4000] [--tasks 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from eventlog import EventLog  # noqa: E402
from pdxsrv.domain import events as ev  # noqa: E402
from pdxsrv.store import events_dir  # noqa: E402

HELLO = textwrap.dedent('''
    import asyncio, sys, tornado.web
    class Hello(tornado.web.RequestHandler):
        def post(self):
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish('{"status": 1, "did": "D0001"}')
    async def main():
        tornado.web.Application([(r"/dataset", Hello)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()
    asyncio.run(main())
''')

LOAD = textwrap.dedent('''
    import asyncio, json, sys, time
    from tornado.httpclient import AsyncHTTPClient
    url, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    body = json.dumps({"name": "bench", "desc": "", "dataset_type": "classification"})
    async def main():
        client = AsyncHTTPClient(max_clients=concurrency)
        left = total
        async def worker():
            nonlocal left
            while left > 0:
                left -= 1
                r = await client.fetch(url, method="POST", body=body, raise_error=False)
                assert r.code == 200 and json.loads(r.body)["status"] == 1, r.body
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        print(total / (time.perf_counter() - start))
    asyncio.run(main())
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the server did not start")


def start(args: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wait_listening(port, proc)
    return proc


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"name": "bench", "desc": "", "dataset_type": "classification"}'
wrk.headers["Content-Type"] = "application/json"
"""


def load(url: str, total: int, concurrency: int, seconds: int) -> float:
    """Requests per second: wrk (C, one thread) if installed, else Tornado's client for `total` requests."""
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(WRK_SCRIPT)
            script.flush()
            out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", script.name, url],
                                 capture_output=True, text=True, check=True).stdout
        assert "Non-2xx" not in out, out
        return float(out.split("Requests/sec:")[1].split()[0])
    out = subprocess.run([sys.executable, "-c", LOAD, url, str(total), str(concurrency)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


def bench_posts(base: str, total: int, seconds: int) -> tuple[float, float]:
    """(pdxsrv durable POST /dataset per second, hello-world POST per second)."""
    rates = {}
    for name in ("hello", "pdxsrv", "hello2", "pdxsrv2"):
        port = free_port()
        if name.startswith("hello"):
            proc = start([sys.executable, "-c", HELLO, str(port)], port)
        else:
            ws = os.path.join(base, f"post-{name}")
            proc = start([sys.executable, "-m", "pdxsrv", "serve", "--workspace", ws, "--port", str(port),
                          "--log-level", "WARNING", "--no-supervisor"], port)
        try:
            rates[name] = load(f"http://127.0.0.1:{port}/dataset", total, 64, seconds)
            if name.startswith("pdxsrv"):  # every answered POST created a dataset, durably
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/dataset") as response:
                    created = len(json.loads(response.read())["datasets"])
                assert created > 0
        finally:
            proc.terminate()
            proc.wait()
    return max(rates["pdxsrv"], rates["pdxsrv2"]), max(rates["hello"], rates["hello2"])


def make_tasks(root: str, count: int, per_project: int = 100) -> None:
    """Write the events of `count` tasks (in projects of `per_project`, each bound to its dataset)."""
    with EventLog(events_dir(root)) as log:
        batch = []
        for p in range(count // per_project):
            did, pid = f"D{p + 1:04d}", f"P{p + 1:04d}"
            batch += [ev.DatasetCreated(did, f"data {p}", "", "classification"),
                      ev.ProjectCreated(pid, f"project {p}", "", "classification"),
                      ev.ProjectAttributesSet(pid, {"did": did})]
            for t in range(per_project):
                tid = f"T{p * per_project + t + 1:04d}"
                batch.append(ev.TaskCreated(tid, pid, "", {"model": "MobileNetV2", "num_epochs": 10}))
            if len(batch) > 5000:
                log.append_sync([ev.to_log_event(e) for e in batch])
                batch = []
        log.append_sync([ev.to_log_event(e) for e in batch])


def latencies(url: str, body: dict, n: int) -> list[float]:
    data = json.dumps(body).encode()
    out = []
    for _ in range(n):
        request = urllib.request.Request(url, data=data, method="GET")
        start = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            payload = response.read()
        out.append((time.perf_counter() - start) * 1000)
        assert json.loads(payload)["status"] == 1
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="POSTs per run without wrk")
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="pdxsrv-api-bench-", dir=ROOT)
    try:
        ours, hello = bench_posts(base, args.requests, args.seconds)
        how = f"wrk, {args.seconds} s per run" if shutil.which("wrk") else f"Tornado client, {args.requests} requests"
        print(f"(a) POST /dataset, 64 concurrent clients ({how}; best of 2 each): "
              f"pdxsrv {ours:,.0f}/s durable, Tornado hello-world {hello:,.0f}/s, ratio {ours / hello:.2f}")
        ws = os.path.join(base, "tasks")
        make_tasks(ws, args.tasks)
        port = free_port()
        t0 = time.perf_counter()
        proc = start([sys.executable, "-m", "pdxsrv", "serve", "--workspace", ws, "--port", str(port),
                      "--log-level", "WARNING", "--no-supervisor"], port)
        opened = time.perf_counter() - t0
        try:
            url = f"http://127.0.0.1:{port}/project/task"
            one = latencies(url, {"pid": f"P{args.tasks // 200:04d}"}, 500)  # a project in the middle
            full = latencies(url, {}, 10)
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait()
        print(f"(b) {args.tasks:,} tasks (start-up from the log, no snapshot: {opened:.1f} s), server RSS {rss:.0f} MiB:")
        print(f"    GET /project/task {{pid}} (100 tasks): p50 {pct(one, 50):.1f} ms, p99 {pct(one, 99):.1f} ms")
        print(f"    GET /project/task (all {args.tasks:,}): p50 {statistics.median(full):.0f} ms, "
              f"max {max(full):.0f} ms (10 requests)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
