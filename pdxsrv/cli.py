"""The `pdxsrv` command: `serve` and `events list|verify|replay|stats`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from eventlog import CorruptLog
from pdxsrv import demo_cmd, events_cmd
from pdxsrv.domain.events import UnknownEvent
from pdxsrv.store import WorkspaceLocked


def _mirror_url(value: str) -> str:
    """An http(s) base URL for --demo-mirror."""
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pdxsrv", description="Build computer-vision models over HTTP.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a workspace over HTTP (the PaddleX RESTful API)")
    serve.add_argument("--workspace", required=True, help="workspace directory (created if new)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any free)")
    serve.add_argument("--snapshot-every", type=int, default=10_000, metavar="N", help="snapshot every N events")
    serve.add_argument(
        "--allow-path", action="append", default=[], metavar="DIR",
        help="a directory clients may name (dataset sources, export targets); repeatable. The workspace always is",
    )
    serve.add_argument(
        "--no-supervisor", action="store_true",
        help="do not start or follow the job supervisor (no job can run; for tools and tests of the API alone)",
    )
    serve.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' on every request")
    serve.add_argument(
        "--honest-status", action="store_true",
        help="answer application errors with HTTP 400/403/404/409/501 instead of the original's HTTP 200",
    )
    serve.add_argument(
        "--demo-mirror", default=None, metavar="URL", type=_mirror_url,
        help="fetch demo archives from URL/<archive> (checked against URL/<archive>.sha256); without it, or when "
             "it cannot serve one, demos are generated",
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    sup = sub.add_parser("supervisor", help="the workspace's job supervisor")
    sup_sub = sup.add_subparsers(dest="supervisor_command", required=True)
    status = sup_sub.add_parser("status", help="the supervisor and its jobs: state, pid, GPUs, runtime")
    status.add_argument("--workspace", required=True, help="workspace directory")
    status.set_defaults(handler=supervisor_status)

    demo = sub.add_parser("demo", help="demo data: generate small, learnable datasets of every type")
    demo_cmd.add_commands(demo.add_subparsers(dest="demo_command", required=True))

    events = sub.add_parser("events", help="audit, verify, repair and replay a workspace's event log")
    events_cmd.add_commands(events.add_subparsers(dest="events_command", required=True))
    return parser


def supervisor_status(args: argparse.Namespace) -> int:
    """pdxsrv supervisor status: exit 0 when the supervisor answers."""
    import os
    import time

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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "serve":
            from pdxsrv.server import serve

            asyncio.run(serve(
                args.workspace, args.host, args.port, snapshot_every=args.snapshot_every,
                allow_paths=tuple(args.allow_path), token=args.token, honest_status=args.honest_status,
                supervise=not args.no_supervisor, demo_mirror=args.demo_mirror,
            ))
            return 0
        return args.handler(args)
    except WorkspaceLocked as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 2
    except (CorruptLog, UnknownEvent) as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
