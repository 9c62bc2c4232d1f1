"""Soak: a bounded mixed workload on loopback with kill -9 of pdxsrv, of the supervisor and of jobs at random moments.

64 clients (threads) create, read and delete datasets, import a tiny generated dataset, and create, train, stop and
delete tiny tasks (MobileNetV3_small, one epoch of 32x32 images, at most --trainings at a time) against one
`pdxsrv serve` with its supervisor. A chaos thread kills -9 pdxsrv (restarted at once on the same workspace), the
supervisor (pdxsrv starts a new one) or a running job, every --kill-every seconds on average. At the end every
training is stopped, and the run checks:

* 0 acknowledged events lost: every object whose creation was answered `status: 1` exists unless a deletion of it
  was sent (a deletion whose answer was cut off by a kill may have happened), and none whose deletion was answered
  exists;
* 0 tasks stuck running and 0 datasets stuck importing once the jobs had time to end;
* 0 HTTP 5xx answers;
* `pdxsrv events verify` clean;
* no orphan process: nothing whose command line names the workspace runs after the supervisor was stopped.

Processes are found through this run's own workspace (its path in their command line), never by name alone.
Connection errors while pdxsrv is down are counted, not failures (those requests were never acknowledged).

Usage: python bench/soak.py [--minutes 10] [--clients 64] [--kill-every 20] [--seed 1] [--keep]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import psutil
import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.client import Client  # noqa: E402
from pdxsrv.datasets.synthetic import make  # noqa: E402
from pdxsrv.domain.enums import DatasetStatus, TaskStatus  # noqa: E402
from tests.conftest import Server  # noqa: E402

TASK = {"model": "MobileNetV3_small", "num_epochs": 1, "save_interval_epochs": 1, "image_shape": [32, 32],
        "batch_size": 4, "pretrain_weights": None}
RUNNING_TASK = {int(TaskStatus.XTRAINING), int(TaskStatus.XPRUNETRAIN), int(TaskStatus.XEVALUATING),
                int(TaskStatus.XEXPORTING), int(TaskStatus.XPRUNEING)}
IMPORTING = {int(DatasetStatus.XCHECKING), int(DatasetStatus.XCOPYING)}


class Soak:
    """The shared facts of one run: the server, what was acknowledged, what was answered."""

    def __init__(self, base: str, args: argparse.Namespace) -> None:
        self.base, self.args = base, args
        self.ws = os.path.join(base, "ws")
        self.source = os.path.join(base, "tiny")
        self.server: Server | None = None
        self.servers: list[Server] = []  # every pdxsrv of the run (their logs say what a 5xx was)
        self.lock = threading.Lock()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.fivexx: list[str] = []
        self.created: dict[str, set[str]] = {"dataset": set(), "task": set()}
        self.deleted: dict[str, set[str]] = {"dataset": set(), "task": set()}
        self.tried: dict[str, set[str]] = {"dataset": set(), "task": set()}  # deletions sent, answered or not
        self.kills: collections.Counter[str] = collections.Counter()
        self.trainings = threading.Semaphore(args.trainings)
        self.stop = threading.Event()
        self.pid = ""

    def start_server(self) -> None:
        self.server = Server(self.ws, "--allow-path", self.base, supervise=True)
        self.servers.append(self.server)

    def errors_logged(self) -> collections.Counter[str]:
        """The exceptions behind the 5xx answers: the last line of each traceback in the servers' logs."""
        found: collections.Counter[str] = collections.Counter()
        for server in self.servers:
            lines = server.stderr().splitlines()
            for i, line in enumerate(lines):
                if line.startswith("Traceback"):
                    end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith((" ", "Traceback"))),
                               None)
                    if end is not None:
                        found[lines[end][:200]] += 1
        return found

    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def call(self, session: requests.Session, method: str, route: str, **args: Any) -> dict[str, Any] | None:
        """One request; None when pdxsrv could not be reached (down or killed during the request)."""
        try:
            resp = session.request(method, self.url() + route, json=args, timeout=60)
        except requests.RequestException:
            with self.lock:
                self.statuses["unreachable"] += 1
            time.sleep(0.2)  # pdxsrv is down or restarting: do not spin
            return None
        with self.lock:
            self.statuses[str(resp.status_code)] += 1
            if resp.status_code >= 500:
                self.fivexx.append(f"{method} {route} {args}: {resp.status_code} {resp.text[:200]}")
        try:
            return resp.json()
        except ValueError:
            return None

    def acked(self, kind: str, oid: str, deleted: bool = False) -> None:
        with self.lock:
            (self.deleted if deleted else self.created)[kind].add(oid)

    def deleting(self, kind: str, oid: str) -> None:
        """A deletion is about to be sent: if its answer is lost (pdxsrv killed), the object may be gone or not."""
        with self.lock:
            self.tried[kind].add(oid)


def client(soak: Soak, seed: int) -> None:
    """One client's loop of random operations until the run ends."""
    rng, session = random.Random(seed), requests.Session()
    mine: list[str] = []
    while not soak.stop.is_set():
        op = rng.choices(["create", "read", "delete", "import", "train"], [4, 8, 2, 1, 1])[0]
        if op == "create" or (op == "delete" and not mine):
            answer = soak.call(session, "POST", "/dataset", name=f"c{seed}-{rng.random():.6f}", dataset_type="classification")
            if answer and answer.get("status") == 1:
                soak.acked("dataset", answer["did"])
                mine.append(answer["did"])
        elif op == "read":
            route, args = rng.choice([("/dataset", {}), ("/project/task", {}), ("/project", {}),
                                      ("/dataset", {"did": rng.choice(mine) if mine else "D0001"}),
                                      ("/events/log", {"limit": 20})])
            soak.call(session, "GET", route, **args)
        elif op == "delete":
            did = mine.pop(rng.randrange(len(mine)))
            soak.deleting("dataset", did)
            answer = soak.call(session, "DELETE", "/dataset", did=did)
            if answer and answer.get("status") == 1:
                soak.acked("dataset", did, deleted=True)
        elif op == "import":
            answer = soak.call(session, "POST", "/dataset", name=f"i{seed}-{rng.random():.6f}", dataset_type="classification")
            if answer and answer.get("status") == 1:
                soak.acked("dataset", answer["did"])
                soak.call(session, "PUT", "/dataset", did=answer["did"], path=soak.source)
        elif soak.trainings.acquire(blocking=False):
            try:
                train_and_stop(soak, session, rng)
            finally:
                soak.trainings.release()
        time.sleep(rng.uniform(0.0, 0.05))


def train_and_stop(soak: Soak, session: requests.Session, rng: random.Random) -> None:
    """Create a tiny task, train it, stop it after a moment, and sometimes delete it."""
    answer = soak.call(session, "POST", "/project/task", pid=soak.pid, train=TASK)
    if not answer or answer.get("status") != 1:
        return
    tid = answer["tid"]
    soak.acked("task", tid)
    soak.call(session, "POST", "/project/task/train", tid=tid)
    time.sleep(rng.uniform(0.5, 4.0))
    soak.call(session, "PUT", "/project/task/train", tid=tid, act="stop")
    if rng.random() < 0.5:
        soak.deleting("task", tid)
        answer = soak.call(session, "DELETE", "/project/task", tid=tid)
        if answer and answer.get("status") == 1:
            soak.acked("task", tid, deleted=True)


def ours(ws: str, marker: str = "") -> list[psutil.Process]:
    """Processes whose command line names this run's workspace (and `marker`, if given)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if ws in line and marker in line and proc.pid != os.getpid():
            found.append(proc)
    return found


def chaos(soak: Soak, rng: random.Random) -> None:
    """Kill -9 pdxsrv, the supervisor or a job at random moments."""
    while not soak.stop.wait(rng.uniform(0.5, 1.5) * soak.args.kill_every):
        victim = rng.choice(["pdxsrv", "supervisor", "job"])
        if victim == "pdxsrv":
            assert soak.server is not None
            soak.server.stop(signal.SIGKILL)
            for attempt in range(5):  # a port taken meanwhile: try another
                try:
                    soak.start_server()
                    break
                except (RuntimeError, TimeoutError) as exc:
                    print(f"restart {attempt + 1} of pdxsrv failed: {exc}", file=sys.stderr)
        else:
            marker = os.path.join(soak.ws, ".pdxsrv", "supervisor") if victim == "supervisor" else "pdxsrv.jobs"
            procs = ours(soak.ws, marker)
            if not procs:
                continue
            try:
                rng.choice(procs).send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                continue
        soak.kills[victim] += 1


def setup(soak: Soak) -> None:
    """The tiny dataset to import, and a project bound to an imported, split copy of it (for the trainings)."""
    make("classification", soak.source, images=8, size=32, seed=0, classes=2)
    soak.start_server()
    c = Client(soak.url())
    did = c.create_dataset("train data", "classification")["did"]
    soak.acked("dataset", did)
    c.import_dataset(did, soak.source)
    wait(lambda: c.dataset(did)["dataset_status"] == DatasetStatus.XCOPYDONE, 120)
    c.split_dataset(did, 0.25, 0.0)
    soak.pid = c.create_project("soak", "classification")["pid"]
    c.set_attributes("project", soak.pid, {"did": did})


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.5)
    return False


def settle(soak: Soak) -> tuple[list[str], list[str]]:
    """Stop what trains; (tasks still running, datasets still importing) after the jobs had time to end."""
    c = Client(soak.url())
    for row in c.tasks()["tasks"]:
        if row["status"] in RUNNING_TASK:
            try:
                c.stop_training(row["id"])
            except Exception:  # noqa: BLE001 (it may have ended meanwhile: the check below decides)
                pass

    def stuck() -> tuple[list[str], list[str]]:
        tasks = [t["id"] for t in c.tasks()["tasks"] if t["status"] in RUNNING_TASK]
        datasets = [d["id"] for d in c.datasets()["datasets"] if d["attr"]["dataset_status"] in IMPORTING]
        return tasks, datasets

    wait(lambda: stuck() == ([], []), 180)
    tasks, datasets = stuck()
    if tasks or datasets:
        diagnose(soak, tasks + datasets)
    return tasks, datasets


def diagnose(soak: Soak, stuck: list[str]) -> None:
    """Print what the log and the supervisor say of the stuck objects' jobs, and what pdxsrv warned of."""
    from eventlog import read_records
    from pdxsrv.domain.apply import fold
    from pdxsrv.store import events_dir
    from pdxsrv.supervision import endpoint_for
    from supervisor.client import Client as SupervisorClient, SupervisorUnavailable

    jobs = fold(read_records(events_dir(soak.ws))).jobs
    sup = SupervisorClient(endpoint_for(soak.ws), timeout=2.0, retries=1)
    try:
        known = {info["job"]: info for info in sup.list()}
    except SupervisorUnavailable as exc:
        known = {}
        print(f"  the supervisor does not answer: {exc}")
    finally:
        sup.close()
    for oid in stuck[:6]:
        mine = [j for j in jobs.values() if j.id.startswith(f"{oid}.")]
        print(f"  {oid}: jobs in the log: {[(j.id, j.state, j.journal_seq) for j in mine]}; "
              f"the supervisor's: {[(k, v.get('state')) for k, v in known.items() if k.startswith(f'{oid}.')]}")
    assert soak.server is not None
    for line in [l for l in soak.server.stderr().splitlines() if "WARNING" in l or "ERROR" in l][-15:]:
        print(f"  pdxsrv: {line[:240]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--kill-every", type=float, default=20.0, help="mean seconds between kills")
    parser.add_argument("--trainings", type=int, default=2, help="tiny trainings at a time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the workspace")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    base = os.path.realpath(tempfile.mkdtemp(prefix="pdxsrv-soak-"))
    soak = Soak(base, args)
    began = time.monotonic()
    try:
        setup(soak)
        threads = [threading.Thread(target=client, args=(soak, args.seed * 1000 + i), daemon=True)
                   for i in range(args.clients)]
        threads.append(threading.Thread(target=chaos, args=(soak, random.Random(args.seed)), daemon=True))
        for t in threads:
            t.start()
        soak.stop.wait(args.minutes * 60)
        soak.stop.set()
        for t in threads:
            t.join(120)
        stuck_tasks, stuck_datasets = settle(soak)
        c = Client(soak.url())
        datasets = {d["id"] for d in c.datasets()["datasets"]}
        tasks = {t["id"] for t in c.tasks()["tasks"]}
        lost = sorted((soak.created["dataset"] - soak.tried["dataset"] - datasets)
                      | (soak.created["task"] - soak.tried["task"] - tasks))
        revived = sorted((soak.deleted["dataset"] & datasets) | (soak.deleted["task"] & tasks))
    finally:
        if soak.server is not None:
            soak.server.stop()
            soak.server.shutdown_supervisor()
    verify = subprocess.run([sys.executable, "-m", "pdxsrv", "events", "verify", "--workspace", soak.ws],
                            capture_output=True, text=True)
    wait(lambda: not ours(soak.ws), 30)
    orphans = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in ours(soak.ws) if p.is_running()]
    elapsed = time.monotonic() - began
    acked = sum(len(s) for s in soak.created.values()) + sum(len(s) for s in soak.deleted.values())
    print(f"soak: {args.minutes:g} min, {args.clients} clients, {elapsed:.0f} s in all; kills: "
          f"{dict(soak.kills)}; answers by HTTP status: {dict(sorted(soak.statuses.items()))}")
    print(f"acknowledged creations and deletions: {acked}; lost: {len(lost)} {lost[:10]}; deleted but present: "
          f"{len(revived)} {revived[:10]}")
    print(f"stuck running: tasks {stuck_tasks}, datasets {stuck_datasets}; 5xx: {len(soak.fivexx)}")
    for line in soak.fivexx[:10]:
        print(f"  {line}")
    for line, count in soak.errors_logged().most_common(10):
        print(f"  logged {count}x: {line}")
    print(f"events verify: exit {verify.returncode}: {verify.stdout.strip().splitlines()[-1] if verify.stdout else verify.stderr.strip()}")
    print(f"orphan processes: {len(orphans)} {orphans[:5]}")
    failed = lost or revived or stuck_tasks or stuck_datasets or soak.fivexx or verify.returncode or orphans
    print("FAILED" if failed else "OK: 0 acknowledged events lost, 0 stuck, 0 5xx, log verified, no orphans")
    if args.keep:
        print(f"workspace kept: {soak.ws}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
