"""Measure each model's CPU cost per training step and per evaluated image: the reference table behind the estimates.

For every model the API offers, `pdxsrv.engine.step_timing.measure` (generated data at the type's reference
side, batch 8, timed steps and one timed evaluation pass); prints the rows of `pdxsrv/domain/step_costs.py`
COSTS (seconds per step at batch 8, seconds per evaluated image). A machine's own table is measured the
same way by `pdxsrv step-costs measure`, which writes it where the server reads it.

Run by hand on a quiet machine: python bench/step_costs.py [--type classification] [--model ResNet18]
(`--side S --batch B`: the same measurement at another side and batch, printed as a plain line, not a
COSTS row: how far the table's linear scaling is from a real step.)
Results and the estimate's error against real runs: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.domain.params import MODELS  # noqa: E402
from pdxsrv.domain.step_costs import BATCH, REFERENCE_SIDE  # noqa: E402
from pdxsrv.engine import loop, step_timing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", action="append", choices=sorted(MODELS), help="project types (default: all)")
    parser.add_argument("--model", action="append", help="only these models")
    parser.add_argument("--side", type=int, help="measure at this side instead of the reference one")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"measure at this batch (default {BATCH})")
    args = parser.parse_args()
    loop.use_device()
    with tempfile.TemporaryDirectory() as work:
        for kind, model, backbone in step_timing.entries(args.type, args.model):
            step, image = step_timing.measure(kind, model, backbone, work, args.side, args.batch)
            name = f"{model}/{backbone}" if backbone else model
            if args.side or args.batch != BATCH:
                print(f"{kind} {name} at {args.side or REFERENCE_SIDE[kind]} px, batch {args.batch}: {step:.3f} s a "
                      f"step, {image:.4f} s an evaluated image", flush=True)
                continue
            print(f'    ("{kind}", "{name}"): ({step:.3f}, {image:.4f}),', flush=True)


if __name__ == "__main__":
    main()
