"""The per-job wrapper: ``python -m supervisor.runner <cwd> -- argv...``.

It leads its own process group (the supervisor starts it with start_new_session=True), runs the
command with stdout/stderr appended to ``<cwd>/out.log`` / ``<cwd>/err.log``, ignores SIGTERM and
SIGINT itself (a group signal reaches the command), waits for it, and writes
``<cwd>/exit.msgpack`` = ``{"exit_code": int|None, "signal": int|None, "ended": float, "pid": int}``
atomically before exiting, so the exit status survives a supervisor that is down. ``pid`` is the
runner's own pid, so a stale file from an earlier run in the same directory is recognisable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

import msgpack

from supervisor.records import atomic_write

EXIT_FILE = "exit.msgpack"


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler (not SIG_IGN, which the command would inherit) that does nothing."""


def run(cwd: str, argv: list[str]) -> tuple[int | None, int | None]:
    """Run `argv` in `cwd`; return (exit_code, signal)."""
    with open(os.path.join(cwd, "out.log"), "ab") as out, open(os.path.join(cwd, "err.log"), "ab") as err:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as exc:
            err.write(f"supervisor.runner: cannot start {argv!r}: {exc}\n".encode())
            return 127, None
        code = proc.wait()
    return (code, None) if code >= 0 else (None, -code)


def main(args: list[str]) -> int:
    """Entry point."""
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m supervisor.runner <cwd> -- argv...", file=sys.stderr)
        return 2
    cwd, argv = os.path.abspath(args[0]), args[2:]
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    exit_path = os.path.join(cwd, EXIT_FILE)
    if os.path.exists(exit_path):
        os.unlink(exit_path)
    exit_code, sig = run(cwd, argv)
    facts = {"exit_code": exit_code, "signal": sig, "ended": time.time(), "pid": os.getpid()}
    atomic_write(exit_path, msgpack.packb(facts, use_bin_type=True))
    return 0 if exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
