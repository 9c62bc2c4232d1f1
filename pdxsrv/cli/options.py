"""Options shared by several command groups: http(s) URLs, web origins, the weights cache, the step-cost file."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit


def http_url(value: str) -> str:
    """An http(s) base URL (--demo-mirror, --weights-mirror)."""
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value


def web_origin(value: str) -> str:
    """A web origin as browsers send it in `Origin` (--cors-origin): scheme://host[:port], no path."""
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path or parsed.query or parsed.fragment:
        raise argparse.ArgumentTypeError(f"{value!r} is not a web origin such as http://127.0.0.1:8000 (scheme, host "
                                         "and port; no path, no trailing slash)")
    return value


def add_weights_dir(parser: argparse._ActionsContainer) -> None:
    """--weights-dir DIR."""
    parser.add_argument(
        "--weights-dir", default=None, metavar="DIR",
        help="the machine's pretrained-weights cache (default $XDG_CACHE_HOME/pdxsrv/weights, else "
             "~/.cache/pdxsrv/weights)",
    )


def add_weights_mirror(parser: argparse._ActionsContainer) -> None:
    """--weights-mirror URL."""
    parser.add_argument(
        "--weights-mirror", default=None, metavar="URL", type=http_url,
        help="download pretrained weights from URL/<file> (`pdxsrv weights list` names each file; checked against "
             "PaddlePaddle's md5 where published, else URL/<file>.sha256 when served) instead of the official URLs",
    )


def add_step_costs(parser: argparse._ActionsContainer) -> None:
    """--step-costs FILE."""
    parser.add_argument(
        "--step-costs", default=None, metavar="FILE",
        help="this machine's measured step costs, which time estimates and CPU recipes use (`pdxsrv step-costs "
             "measure` and finished CPU training runs write it; default $XDG_CACHE_HOME/pdxsrv/step_costs.json, else "
             "~/.cache/pdxsrv/step_costs.json); without it, the reference machine's table",
    )
