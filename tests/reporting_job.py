"""A stand-in for training that reports a mix of progress and metrics (run by the supervisor)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from supervisor import report


def main() -> int:
    """Report `--count` messages (a metric every tenth), pausing at `--pause-at` until `--wait-file` exists."""
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--pause-at", type=int, default=-1)
    p.add_argument("--wait-file", default="")
    p.add_argument("--sleep", type=float, default=0.0, help="sleep this long before reporting")
    p.add_argument("--stderr", default="")
    args = p.parse_args()
    with open("job.pid", "w") as f:
        f.write(str(os.getpid()))
    if args.stderr:
        print(args.stderr, file=sys.stderr, flush=True)
    time.sleep(args.sleep)
    for i in range(args.count):
        if i == args.pause_at:
            while not os.path.exists(args.wait_file):
                time.sleep(0.02)
        if i % 10 == 9:
            report.metric(step=i, acc=i / args.count)
        else:
            report.progress(step=i)
    report.done(steps=args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
