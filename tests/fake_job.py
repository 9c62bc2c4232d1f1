"""A stand-in for a training job, run by the supervisor in tests (uses supervisor.report)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from supervisor import report

CHILD = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)\n"


def main() -> int:
    """Report, wait, sleep and exit as the arguments say."""
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=0, help="progress records to report at once")
    p.add_argument("--wait-file", help="then wait until this file exists")
    p.add_argument("--after", type=int, default=0, help="progress records to report after the wait")
    p.add_argument("--sleep", type=float, default=0.0, help="then sleep this long")
    p.add_argument("--term", choices=("default", "save", "ignore"), default="default")
    p.add_argument("--child", action="store_true", help="spawn a child that ignores SIGTERM")
    p.add_argument("--stderr", default="", help="a line to print on stderr at start")
    p.add_argument("--exit", type=int, default=0)
    args = p.parse_args()

    with open("job.pid", "w") as f:
        f.write(str(os.getpid()))
    if args.stderr:
        print(args.stderr, file=sys.stderr, flush=True)
    if args.term == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif args.term == "save":
        def save(signum: int, frame: FrameType | None) -> None:
            with open("saved", "w") as marker:
                marker.write("checkpoint")
            report.log("saved on SIGTERM")
            sys.exit(0)
        signal.signal(signal.SIGTERM, save)
    if args.child:
        child = subprocess.Popen([sys.executable, "-c", CHILD])
        with open("child.pid", "w") as f:
            f.write(str(child.pid))
    for i in range(args.count):
        report.progress(step=i)
    if args.wait_file:
        while not os.path.exists(args.wait_file):
            time.sleep(0.05)
        for i in range(args.after):
            report.progress(step=args.count + i)
    deadline = time.monotonic() + args.sleep
    while time.monotonic() < deadline:
        time.sleep(0.05)
    report.done(ok=args.exit == 0)
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
