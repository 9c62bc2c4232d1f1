"""`pdxsrv weights list|pull`: the pretrained-weights table and the machine's cache.

`list --json` prints one JSON object per entry and line: model, backbone, keyword, cached, size (bytes or null),
path, url, mirror_name, checksum ("md5 <hex>" or null), prefix, source, checked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

from pdxsrv.cli.options import add_weights_dir, add_weights_mirror
from pdxsrv.weights import Cached, WeightsConfig, WeightsError, default_dir, status

PROGRESS_EVERY = 0.25  # seconds between progress lines


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the `weights` subcommands."""
    ls = sub.add_parser("list", help="every known weights file: cached or not, size, official URL, mirror file name")
    add_weights_dir(ls)
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=cmd_list)

    pull = sub.add_parser("pull", help="download a weights file into the cache ahead of time")
    pull.add_argument("model", metavar="MODEL", help="model name, e.g. ResNet18, DeepLabV3P, YOLOv3")
    pull.add_argument("keyword", metavar="KEYWORD", help="IMAGENET, COCO or CITYSCAPES")
    pull.add_argument("--backbone", default=None, metavar="B", help="the model's backbone (default: its default)")
    add_weights_dir(pull)
    add_weights_mirror(pull)
    pull.set_defaults(handler=cmd_pull)


def _row(row: Cached) -> dict[str, Any]:
    entry = row.entry
    return {"model": entry.model, "backbone": entry.backbone, "keyword": entry.keyword, "cached": row.cached,
            "size": row.size, "path": row.path, "url": entry.url, "mirror_name": entry.mirror_name,
            "checksum": str(entry.checksum) if entry.checksum else None, "prefix": entry.prefix,
            "source": entry.source, "checked": row.checked}


def _size(size: int | None) -> str:
    return f"{size / 1e6:.1f} MB" if size is not None else "-"


def cmd_list(args: argparse.Namespace) -> int:
    """pdxsrv weights list."""
    folder = args.weights_dir or default_dir()
    rows = [_row(row) for row in status(folder)]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"weights cache: {folder}")
    print(f"{'MODEL':<23} {'BACKBONE':<12} {'KEYWORD':<10} {'CACHED':<6} {'SIZE':>9}  {'MIRROR FILE':<42} "
          f"{'CHECKSUM':<37} URL")
    for r in rows:
        print(f"{r['model']:<23} {r['backbone'] or '-':<12} {r['keyword']:<10} {'yes' if r['cached'] else 'no':<6} "
              f"{_size(r['size']):>9}  {r['mirror_name']:<42} {r['checksum'] or '-':<37} {r['url']}")
    return 0


def _progress(name: str) -> Callable[[int, int], None]:
    """A progress callback printing `name: done / total` to stderr, at most every PROGRESS_EVERY seconds."""
    last = [0.0]
    end = "\r" if sys.stderr.isatty() else "\n"

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] < PROGRESS_EVERY and not (total and done >= total):
            return
        last[0] = time.monotonic()
        share = f" ({100 * done / total:.0f}%)" if total else ""
        print(f"downloading {name}: {done / 1e6:.1f} / {total / 1e6:.1f} MB{share}", end=end, file=sys.stderr,
              flush=True)
    return progress


def cmd_pull(args: argparse.Namespace) -> int:
    """pdxsrv weights pull: 0 when the file is in the cache afterwards, 1 (with the reason) when it cannot be."""
    config = WeightsConfig(args.weights_dir or default_dir(), args.weights_mirror)
    try:
        name = os.path.basename(config.path(args.model, args.keyword, args.backbone))
        fetched = config.fetch(args.model, args.keyword, args.backbone, _progress(name))
    except WeightsError as exc:
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 1
    if sys.stderr.isatty() and fetched.downloaded:
        print(file=sys.stderr)
    how = "downloaded" if fetched.downloaded else "already cached"
    print(f"{fetched.path}: {how}, {_size(os.path.getsize(fetched.path))}; checked: {fetched.checked}")
    return 0
