"""`pdxsrv demo make TYPE DIR`: write a small synthetic dataset of a type, in one of its on-disk formats."""

from __future__ import annotations

import argparse
import sys

from pdxsrv.datasets.synthetic import FORMATS, KINDS, make


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the `demo` subcommands."""
    formats = "; ".join(f"{kind}: {', '.join(fmts)}" for kind, fmts in FORMATS.items())
    mk = sub.add_parser(
        "make", help="write a synthetic dataset (coloured shapes, digits or multi-band fields)",
        description=f"Formats (first = default; append _tricky for a mixed layout): {formats}.",
    )
    mk.add_argument("type", metavar="TYPE", help=f"dataset type: {', '.join(KINDS)}")
    mk.add_argument("dir", metavar="DIR", help="target directory (created; must be empty or missing)")
    mk.add_argument("--format", default=None, metavar="F", help="on-disk format (default: the type's first)")
    mk.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    mk.add_argument("--images", type=int, default=24, metavar="N", help="number of images (default 24)")
    mk.add_argument("--size", type=int, default=64, metavar="N", help="image side in pixels (default 64)")
    mk.add_argument("--classes", type=int, default=3, metavar="N", help="number of classes (default 3)")
    mk.add_argument("--bands", type=int, default=4, metavar="N", help="bands of remote_segmentation (default 4)")
    mk.add_argument("--presplit", action="store_true", help="also write train/val(/test) lists or json files")
    mk.set_defaults(handler=cmd_make)


def cmd_make(args: argparse.Namespace) -> int:
    """pdxsrv demo make: write the dataset and print a one-line summary; 2 on a usage error."""
    try:
        man = make(
            args.type, args.dir, fmt=args.format, seed=args.seed, images=args.images, size=args.size,
            classes=args.classes, presplit=args.presplit, bands=getattr(args, "bands", 4),
        )
    except (ValueError, FileExistsError, NotADirectoryError) as exc:
        print(f"pdxsrv: {exc}", file=sys.stderr)
        return 2
    split = " presplit" if man.split else ""
    tricky = " tricky" if man.tricky else ""
    print(f"{man.kind} {man.fmt}{tricky}{split}: {len(man.images)} images, labels {','.join(man.labels)} in {args.dir}")
    return 0
