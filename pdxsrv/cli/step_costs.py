"""`pdxsrv step-costs measure|show`: time this machine's training steps, which estimates and CPU recipes then use.

`measure` times every model the API offers (or those named) on the CPU, as `bench/step_costs.py` timed the
reference table, and records each in the step-cost file (`pdxsrv.machine_costs`) as soon as it is timed: a
running `pdxsrv serve` uses it from its next recommendation on. All 38 take about 13 minutes on 2 cores;
measure on a quiet machine (a busy one reads slow, and its recipes get fewer epochs than they could).
Finished CPU training runs add their own figures to the same file without being asked, which estimate runs
of about their size (`pdxsrv.machine_costs`). `show` prints the file beside the reference table, with where each model's
figures came from; `show --json` the file itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

import psutil

from pdxsrv import machine_costs, system
from pdxsrv.cli.options import add_step_costs
from pdxsrv.domain.params import MODELS
from pdxsrv.domain.step_costs import BATCH, COSTS

BUSY = 25.0  # CPU use (percent of all cores, over a second) above which the measurement is warned to read slow


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the `step-costs` subcommands."""
    measure = sub.add_parser("measure", help="time each model's training step and evaluated image on this CPU")
    measure.add_argument("--type", action="append", choices=sorted(MODELS), help="only this project type "
                         "(repeatable; default all)")
    measure.add_argument("--model", action="append", metavar="MODEL", help="only this model (repeatable)")
    add_step_costs(measure)
    measure.set_defaults(handler=cmd_measure)

    show = sub.add_parser("show", help="this machine's measured step costs beside the reference table")
    show.add_argument("--json", action="store_true", help="print the file as it is")
    add_step_costs(show)
    show.set_defaults(handler=cmd_show)


def _name(model: str, backbone: str | None) -> str:
    return f"{model}/{backbone}" if backbone else model


def _versus(kind: str, name: str, step: float) -> str:
    reference = COSTS.get((kind, name))
    return f"(reference {reference[0]:.3f} s: {step / reference[0]:.2f}x)" if reference else "(not in the reference)"


def cmd_measure(args: argparse.Namespace) -> int:
    """pdxsrv step-costs measure."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # CPU costs, even on a machine with a GPU (estimates are for CPUs)
    from pdxsrv.engine import loop, step_timing

    path = args.step_costs or machine_costs.default_path()
    todo = list(step_timing.entries(args.type, args.model))
    if not todo:
        known = sorted({m for kind in args.type or MODELS for m in MODELS[kind]})
        print(f"pdxsrv: no model to measure: {', '.join(args.model or [])} is not one of {', '.join(known)}",
              file=sys.stderr)
        return 2
    cores = system.cpu_capacity()[0]
    print(f"measuring {len(todo)} models on {system.cpu_model()} ({cores} cores) into {path}", flush=True)
    used = psutil.cpu_percent(interval=1.0)
    if used > BUSY:
        print(f"warning: the machine is busy ({used:.0f} % of its CPU in use before measuring): its steps will read "
              "slow and its recipes get fewer epochs than they could; measure again when nothing else runs", flush=True)
    import paddle

    loop.use_device()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="pdxsrv-step-costs-") as work:
        for number, (kind, model, backbone) in enumerate(todo, 1):
            name = _name(model, backbone)
            try:
                step, image = step_timing.measure(kind, model, backbone, work)
            except Exception as exc:  # noqa: BLE001 - one model that cannot be timed does not stop the others
                failed += 1
                print(f"[{number}/{len(todo)}] {kind} {name}: failed ({type(exc).__name__}: {exc})", flush=True)
                continue
            machine_costs.record(path, kind, name, step, image, "measure", paddle.__version__, busy=used)
            print(f"[{number}/{len(todo)}] {kind} {name}: {step:.3f} s a step of {BATCH} images, {image:.4f} s an "
                  f"evaluated image {_versus(kind, name, step)}", flush=True)
    print(f"{len(todo) - failed} of {len(todo)} models measured; estimates and CPU recipes now use them")
    return 1 if failed else 0


def cmd_show(args: argparse.Namespace) -> int:
    """pdxsrv step-costs show."""
    path = args.step_costs or machine_costs.default_path()
    try:
        doc = machine_costs.read(path)
    except ValueError as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=1, sort_keys=True))
        return 0
    if doc is None:
        print(f"{path}: nothing measured on this machine yet; estimates use the reference table "
              "(`pdxsrv step-costs measure` measures this one)")
        return 0
    why = machine_costs.mismatch(doc)
    print(f"{path}: {doc['cpu']}, {doc['cores']} cores; "
          + (f"NOT USED: {why}" if why else "used by estimates and CPU recipes"))
    print(f"{'TYPE':<22} {'MODEL':<24} {'STEP S':>7} {'IMAGE S':>8} {'X REF':>6}  {'LATEST':<20}  FROM")
    for key, value in sorted(doc["costs"].items()):
        kind, _, name = key.partition(" ")
        reference = COSTS.get((kind, name))
        ratio = f"{value['step'] / reference[0]:.2f}" if reference else "-"
        print(f"{kind:<22} {name:<24} {value['step']:>7.3f} {value['image']:>8.4f} {ratio:>6}  "
              f"{value['measured']:<20}  {_sources(machine_costs.samples_of(value))}")
    return 0


def _sources(samples: list[dict[str, Any]]) -> str:
    """Where an entry's figures came from: "2 measurements (3 % busy before the last), 1 run (T0004 at 3.25x)"."""
    runs = [str(x["from"])[4:] + (f" at {x['work']:g}x" if "work" in x else "") for x in samples
            if machine_costs.is_run(x)]
    measures = [x for x in samples if not machine_costs.is_run(x)]
    parts = []
    if measures:
        busy = measures[-1].get("busy")
        parts.append(f"{len(measures)} measurement{'s' * (len(measures) > 1)}"
                     + (f" ({busy:g} % busy before the last)" if isinstance(busy, (int, float)) else ""))
    if runs:
        parts.append(f"{len(runs)} training run{'s' * (len(runs) > 1)} ({', '.join(runs)} a reference step's work)")
    return ", ".join(parts)
