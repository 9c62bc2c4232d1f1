"""`pdxsrv supervisor status|stop`: the workspace's job supervisor and its jobs."""

from __future__ import annotations

import argparse
import fcntl
import os
import time

STOP_TIMEOUT = 300.0  # seconds `stop` waits for the supervisor to exit


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the `supervisor` subcommands."""
    status = sub.add_parser("status", help="the supervisor and its jobs: state, pid, GPUs, runtime")
    status.add_argument("--workspace", required=True, help="workspace directory")
    status.set_defaults(handler=cmd_status)
    stop = sub.add_parser("stop", help="stop the workspace's supervisor: its jobs stopped gracefully first, or kept "
                                       "running with --keep-jobs (the next supervisor re-adopts them)")
    stop.add_argument("--workspace", required=True, help="workspace directory")
    stop.add_argument("--keep-jobs", action="store_true",
                      help="leave running jobs running; the next supervisor (the next `pdxsrv serve`) re-adopts them")
    stop.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                      help="seconds each job gets between SIGTERM and SIGKILL (default: the job's own; training "
                           "120)")
    stop.add_argument("--timeout", type=float, default=STOP_TIMEOUT, metavar="SECONDS",
                      help=f"how long to wait for the supervisor to exit (default {STOP_TIMEOUT:g})")
    stop.set_defaults(handler=cmd_stop)


def _endpoint(workspace: str) -> str:
    """The workspace's supervisor endpoint, its socket directory checked (UnsafeSocketDir if not private)."""
    from pdxsrv.supervision import endpoint_for
    from supervisor.sockdir import check_private, socket_dir

    endpoint = endpoint_for(os.path.realpath(workspace))
    directory = socket_dir(endpoint)
    if directory is not None and os.path.lexists(directory):
        check_private(directory)
    return endpoint


def cmd_status(args: argparse.Namespace) -> int:
    """pdxsrv supervisor status: exit 0 when the supervisor answers."""
    from supervisor.client import Client, SupervisorUnavailable

    endpoint = _endpoint(args.workspace)
    client = Client(endpoint, timeout=1.0, retries=1)
    try:
        ping = client.ping()
        jobs = client.list()
    except SupervisorUnavailable:
        print(f"no supervisor answers at {endpoint}")
        return 1
    finally:
        client.close()
    print(f"supervisor pid {ping['pid']} at {endpoint}, up {time.time() - ping['started']:.0f} s, {len(jobs)} job(s)")
    for job in jobs:
        end = job.get("ended") or time.time()
        runtime = f"{end - job['started']:.0f} s" if job.get("started") else "-"
        gpus = ",".join(map(str, job.get("gpus") or [])) or "cpu"
        print(f"  {job['job']:<24} {job['state']:<9} pid {job.get('pid') or '-':<8} gpus {gpus:<6} {runtime}")
    return 0


def served_by(workspace: str) -> int | None:
    """The pid of the `pdxsrv serve` holding the workspace's log (0 if unknown), or None when none does."""
    from pdxsrv.store import events_dir

    path = os.path.join(events_dir(os.path.realpath(workspace)), "LOCK")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        try:
            return int(os.pread(fd, 32, 0).decode().strip() or 0)
        except ValueError:
            return 0
    finally:
        os.close(fd)


def cmd_stop(args: argparse.Namespace) -> int:
    """pdxsrv supervisor stop: 0 once no supervisor runs for the workspace."""
    from supervisor.client import Client, SupervisorUnavailable

    server = served_by(args.workspace)
    if server is not None:
        print(f"pdxsrv: the workspace is served by process {server or '?'}, which would start a new supervisor at "
              "once: stop that `pdxsrv serve` first")
        return 2
    endpoint = _endpoint(args.workspace)
    client = Client(endpoint, timeout=2.0, retries=1)
    try:
        pid = client.ping()["pid"]
        answer = client.shutdown(stop_jobs=not args.keep_jobs, grace=args.grace)
    except SupervisorUnavailable:
        print(f"no supervisor runs for {os.path.realpath(args.workspace)} (none answers at {endpoint})")
        return 0
    finally:
        client.close()
    stopping = answer.get("stopping") or []
    if args.keep_jobs:
        print(f"supervisor pid {pid} exits; its running jobs keep running for the next supervisor to re-adopt")
    else:
        print(f"supervisor pid {pid} stops {len(stopping)} job(s){': ' + ', '.join(stopping) if stopping else ''}, "
              "then exits")
    deadline = time.monotonic() + args.timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            print(f"pdxsrv: supervisor pid {pid} has not exited after {args.timeout:g} s")
            return 1
        time.sleep(0.1)
    print(f"supervisor pid {pid} exited")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True
