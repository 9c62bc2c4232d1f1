"""`python -m pdxsrv.jobs <kind> <job dir>`: run one job; its parameters are `<job dir>/job.json`."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

from pdxsrv.jobs import import_dataset

JOBS: dict[str, Callable[[dict[str, Any]], int]] = {
    "import": import_dataset.run,
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
