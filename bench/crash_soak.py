"""Crash soak: many more kill -9 rounds than the test suite runs, with a summary.

Each round starts a process with 64 concurrent appenders that prints every seq once its append
returned, kills it with SIGKILL at a random moment, reopens the log and checks that every printed
seq is there and that the log verifies. The baseline of the ratio printed is the number of rounds.

Usage: python bench/crash_soak.py [--rounds 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.test_eventlog_crash import crash_once  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    acknowledged = torn = failures = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as base:
        for i in range(args.rounds):
            directory = os.path.join(base, f"log{i // 5}")  # five crashes per log, then a fresh one
            try:
                acked, last, was_torn = crash_once(directory, rng)
                assert not acked or max(acked) <= last, f"round {i}: acknowledged seq {max(acked)} > {last}"
            except AssertionError as exc:
                failures += 1
                print(f"round {i}: FAILED: {exc}")
                continue
            acknowledged += len(acked)
            torn += was_torn
    print(f"{args.rounds} kill -9 rounds in {time.perf_counter() - start:.0f} s (five per log): "
          f"{acknowledged:,} acknowledged appends, all present after reopen in "
          f"{args.rounds - failures}/{args.rounds} rounds; torn tails truncated in {torn} rounds")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
