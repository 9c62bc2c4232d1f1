"""How much faster is a CPU training step with paddle's math threads set to the cores (as jobs do)?

Runs the same ResNet18 forward + backward steps (batch 8, 160 px) in two fresh processes, one with
paddle's default of one math thread and one after `pdxsrv.engine.loop.use_device()` (a thread per
core), alternating, and prints the best step time of each and their ratio.

    python bench/cpu_threads_bench.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP = r"""
import sys, time
import paddle
if sys.argv[1] == "engine":
    from pdxsrv.engine.loop import use_device
    use_device()
else:
    paddle.set_device("cpu")
net = paddle.vision.models.resnet18(num_classes=3)
x = paddle.randn([8, 3, 160, 160])
best = float("inf")
for _ in range(6):
    began = time.perf_counter()
    net(x).sum().backward()
    best = min(best, time.perf_counter() - began)
print(best)
"""


def step_time(mode: str) -> float:
    """The best of six steps in a fresh process."""
    out = subprocess.run([sys.executable, "-c", STEP, mode], capture_output=True, text=True, cwd=REPO, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    one, engine = [], []
    for _ in range(args.rounds):
        one.append(step_time("default"))
        engine.append(step_time("engine"))
    print(f"cores {len(os.sched_getaffinity(0))}: ResNet18 step (batch 8, 160 px) best of {args.rounds} runs: "
          f"paddle default {min(one):.3f} s, engine {min(engine):.3f} s, ratio {min(one) / min(engine):.2f}x")


if __name__ == "__main__":
    main()
