"""`pdxsrv supervisor status`: the workspace's job supervisor and its jobs."""

from __future__ import annotations

import argparse
import os
import time


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the `supervisor` subcommands."""
    status = sub.add_parser("status", help="the supervisor and its jobs: state, pid, GPUs, runtime")
    status.add_argument("--workspace", required=True, help="workspace directory")
    status.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """pdxsrv supervisor status: exit 0 when the supervisor answers."""
    from pdxsrv.supervision import endpoint_for
    from supervisor.client import Client, SupervisorUnavailable

    endpoint = endpoint_for(os.path.realpath(args.workspace))
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
