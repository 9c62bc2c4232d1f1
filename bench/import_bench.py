"""Dataset import vs `cp -r` of the same tree, in the same run.

The import is what the import job does: check every file with the type's reader, then copy
(hard links, or plain copies with --copy) into a new directory. The baseline is `cp -r` of the
same source tree on the same disk. Run each twice, keep the best.

Each timed run starts after `sync` (so one run's writeback is not billed to the next); with
--no-sync the runs measure page-cache speed instead.

Usage: python bench/import_bench.py [--images 10000] [--kind classification] [--dir DIR] [--no-sync]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.datasets.copying import copy_dataset  # noqa: E402
from pdxsrv.datasets.readers import READERS  # noqa: E402
from pdxsrv.datasets.synthetic import make  # noqa: E402


SYNC = True


def timed(fn) -> float:
    if SYNC:
        os.sync()  # write back earlier runs' files first, so their writeback does not land in this measurement
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--kind", default="classification")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir on the working disk)")
    parser.add_argument("--no-sync", action="store_true", help="do not sync before each run (page-cache speed)")
    args = parser.parse_args()
    global SYNC
    SYNC = not args.no_sync
    base = tempfile.mkdtemp(prefix="pdxsrv-import-bench-", dir=args.dir)
    try:
        source = os.path.join(base, "source")
        start = time.perf_counter()
        make(args.kind, source, images=args.images, size=64)
        print(f"generated {args.images:,} {args.kind} images in {time.perf_counter() - start:.1f} s")
        runs: dict[str, list[float]] = {"cp -r": [], "check only": [], "import (hard links)": [], "import (copies)": []}
        for i in range(2):
            target = os.path.join(base, f"cp{i}")
            runs["cp -r"].append(timed(lambda: subprocess.run(["cp", "-r", source, target], check=True)))
            scan = None

            def check() -> None:
                nonlocal scan
                scan = READERS[args.kind](source, None)

            runs["check only"].append(timed(check))
            for name, link in (("import (hard links)", True), ("import (copies)", False)):
                target = os.path.join(base, f"{name[8:13]}{i}")
                runs[name].append(timed(lambda: copy_dataset(source, target, READERS[args.kind](source, None).files,
                                                              link=link)))
        baseline = min(runs["cp -r"])
        for name, times in runs.items():
            print(f"  {name:<22} {min(times):6.2f} s   {min(times) / baseline:5.2f}x cp -r")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
