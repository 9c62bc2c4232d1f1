"""`python -m supervisor --endpoint ipc:///path/sup --state-dir DIR [--grace 10] [--idle-exit 600]`."""

from __future__ import annotations

import argparse
import logging
import sys

from supervisor.protocol import DEFAULT_GRACE, DEFAULT_IDLE_EXIT
from supervisor.server import Server
from supervisor.statelock import StateDirLocked
from supervisor.sockdir import UnsafeSocketDir


def main(argv: list[str] | None = None) -> int:
    """Run a supervisor until shutdown."""
    parser = argparse.ArgumentParser(prog="python -m supervisor", description="Run and watch jobs.")
    parser.add_argument("--endpoint", required=True, help="ROUTER address; .pub and .push derive from it")
    parser.add_argument("--state-dir", required=True, help="where job records live")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE, help="default seconds between SIGTERM and SIGKILL")
    parser.add_argument("--idle-exit", type=float, default=DEFAULT_IDLE_EXIT, metavar="SECONDS",
                        help="with no queued or running job and no subscriber, exit after this long (default "
                             f"{DEFAULT_IDLE_EXIT:g}; 0 = never); a supervisor whose state dir is gone exits when idle")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s")
    try:
        server = Server(args.endpoint, args.state_dir, args.grace, args.idle_exit)
    except (StateDirLocked, UnsafeSocketDir) as exc:
        print(f"supervisor: {exc}", file=sys.stderr)
        return 1
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
