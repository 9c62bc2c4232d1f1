"""The `pdxsrv` command: `serve`, `predict`, `supervisor`, `demo`, `events`, `weights` and `step-costs`, one module per
command group."""

from __future__ import annotations

import argparse
import pdxsrv
import logging
import os
import sys

from eventlog import CorruptLog
from pdxsrv.cli import demo, events, predict, serve, step_costs, supervisor, weights
from pdxsrv.domain.events import UnknownEvent
from pdxsrv.store import WorkspaceLocked


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pdxsrv", description="Build computer-vision models over HTTP.")
    parser.add_argument("--version", action="version", version=f"pdxsrv {pdxsrv.version()}")
    sub = parser.add_subparsers(dest="command")
    serve.add_arguments(sub.add_parser("serve", help="serve a workspace over HTTP (the PaddleX RESTful API)"))
    predict.add_arguments(sub.add_parser("predict", help="predict images with an exported model (its deploy.yml)"))
    groups = (
        (supervisor, "supervisor", "the workspace's job supervisor"),
        (demo, "demo", "demo data: generate small, learnable datasets of every type"),
        (events, "events", "audit, verify, repair and replay a workspace's event log"),
        (weights, "weights", "pretrained weights: list the table and the cache, download ahead of time"),
        (step_costs, "step-costs", "time this machine's training steps, for the time estimates and CPU recipes"),
    )
    for module, name, text in groups:
        group = sub.add_parser(name, help=text)
        module.add_commands(group.add_subparsers(dest=f"{name}_command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `pdxsrv` alone: its help, on stdout
        parser.print_help()
        return 0
    logging.basicConfig(
        level=getattr(args, "log_level", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.handler(args)
    except WorkspaceLocked as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 2
    except (CorruptLog, UnknownEvent) as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # the reader stopped early (`| head`): nothing went wrong, and nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit, when Python flushes stdout
        return 1
    except OSError as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 1
