"""`python -m pdxsrv.jobs <kind> <job dir>`: run one job; its parameters are `<job dir>/job.json`."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any, Callable

from pdxsrv.jobs import demo, import_dataset


def _engine_job(module: str) -> Callable[[dict[str, Any]], int]:
    """A job that imports paddle: loaded only when it runs, after the start-up self-test passes."""
    def run(params: dict[str, Any]) -> int:
        from pdxsrv.engine import selftest
        from pdxsrv.engine.base import EngineError

        selftest.preload()
        job = importlib.import_module(f"pdxsrv.jobs.{module}")
        try:
            selftest.check()
        except EngineError as exc:
            from supervisor import report

            report.done(ok=False, message=str(exc))
            return 1
        return job.run(params)
    return run


JOBS: dict[str, Callable[[dict[str, Any]], int]] = {
    "import": import_dataset.run,
    "demo": demo.run,
    "train": _engine_job("train"),
    "evaluate": _engine_job("evaluate"),
    "predict": _engine_job("predict"),
    "export": _engine_job("export"),
    "prune": _engine_job("prune"),
}


def main(argv: list[str]) -> int:
    """Dispatch to the job named by argv[0]."""
    if len(argv) != 2 or argv[0] not in JOBS:
        print(f"usage: python -m pdxsrv.jobs {{{','.join(JOBS)}}} JOB_DIR", file=sys.stderr)
        return 2
    with open(os.path.join(argv[1], "job.json"), encoding="utf-8") as f:
        params = json.load(f)
    return JOBS[argv[0]](params)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
