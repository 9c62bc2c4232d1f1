"""`pdxsrv serve`: serve a workspace over HTTP (the PaddleX RESTful API)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import stat

from pdxsrv.cli.options import add_step_costs, add_weights_dir, add_weights_mirror, http_url, web_origin
from supervisor.protocol import DEFAULT_IDLE_EXIT

TOKEN_ENV = "PDXSRV_TOKEN"


def add_arguments(serve: argparse.ArgumentParser) -> None:
    """The options of `serve`."""
    serve.add_argument("--workspace", required=True, help="workspace directory (created if new)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any free)")
    serve.add_argument("--snapshot-every", type=int, default=10_000, metavar="N", help="snapshot every N events")
    serve.add_argument(
        "--allow-path", action="append", default=[], metavar="DIR",
        help="a directory clients may name (dataset sources, export targets); repeatable. The workspace always is",
    )
    serve.add_argument(
        "--no-supervisor", action="store_true",
        help="do not start or follow the job supervisor (no job can run; for tools and tests of the API alone)",
    )
    token = serve.add_mutually_exclusive_group()
    token.add_argument(
        "--token-file", default=None, metavar="FILE",
        help="require 'Authorization: Bearer TOKEN' on every request, TOKEN being FILE's content (surrounding "
             f"whitespace stripped); FILE must not be readable by group or others. Else ${TOKEN_ENV}, if set, is "
             "the token",
    )
    token.add_argument("--token", default=None,
                       help="the token on the command line (visible to every local user in `ps`: prefer "
                            f"--token-file or ${TOKEN_ENV})")
    serve.add_argument(
        "--honest-status", action="store_true",
        help="answer application errors with HTTP 400/403/404/409/501 instead of the original's HTTP 200",
    )
    serve.add_argument(
        "--demo-mirror", default=None, metavar="URL", type=http_url,
        help="fetch demo archives from URL/<archive> (checked against URL/<archive>.sha256); without it, or when "
             "it cannot serve one, demos are generated",
    )
    serve.add_argument(
        "--cors-origin", action="append", default=[], metavar="ORIGIN", type=web_origin,
        help="a web origin (scheme://host[:port]) whose pages may call this API from a browser, e.g. a page of the "
             "original PaddleX web demo served elsewhere; repeatable. Off by default: it opens the API to that origin",
    )
    serve.add_argument(
        "--legacy-demo", default=None, metavar="FILE",
        help="serve FILE, your copy of the original PaddleX web demo page (paddlex_restful_demo.html), at "
             "/paddlex_restful_demo.html with its http://0.0.0.0:8080 replaced by this server's URL",
    )
    add_weights_dir(serve)
    source = serve.add_mutually_exclusive_group()
    add_weights_mirror(source)
    source.add_argument(
        "--offline", action="store_true",
        help="never download pretrained weights: IMAGENET/COCO/CITYSCAPES use only what the weights cache holds",
    )
    add_step_costs(serve)
    serve.add_argument(
        "--supervisor-idle-exit", type=float, default=DEFAULT_IDLE_EXIT, metavar="SECONDS",
        help="a supervisor this serve starts exits when it has had no job and no pdxsrv connected for SECONDS "
             f"(default {DEFAULT_IDLE_EXIT:g}; 0 = never), or when idle and its workspace is gone",
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """pdxsrv serve: run until SIGTERM or SIGINT."""
    from pdxsrv import machine_costs
    from pdxsrv.server import serve
    from pdxsrv.weights import WeightsConfig, default_dir

    weights = WeightsConfig(args.weights_dir or default_dir(), args.weights_mirror, args.offline)
    asyncio.run(serve(
        args.workspace, args.host, args.port, snapshot_every=args.snapshot_every,
        allow_paths=tuple(args.allow_path), token=token_of(args), honest_status=args.honest_status,
        supervise=not args.no_supervisor, demo_mirror=args.demo_mirror, weights=weights,
        cors_origins=tuple(args.cors_origin), legacy_demo=args.legacy_demo,
        supervisor_idle_exit=args.supervisor_idle_exit, step_costs=args.step_costs or machine_costs.default_path(),
    ))
    return 0


def token_of(args: argparse.Namespace) -> str | None:
    """The token: --token-file's content, else --token, else $PDXSRV_TOKEN, else None (no auth)."""
    if args.token_file:
        return read_token_file(args.token_file)
    if args.token is not None:
        logging.getLogger("pdxsrv").warning("--token is visible to every local user in `ps`; use --token-file FILE "
                                            "or $%s instead", TOKEN_ENV)
        return _non_empty(args.token, "--token")
    value = os.environ.get(TOKEN_ENV)
    return None if value is None else _non_empty(value.strip(), f"${TOKEN_ENV}")


def read_token_file(path: str) -> str:
    """A token file's content, stripped; OSError (naming the file) if others may read it, or it is empty."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise OSError(f"--token-file {path}: cannot read it ({exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise OSError(f"--token-file {path}: group or others may read it (mode {stat.S_IMODE(mode):04o}); "
                      f"`chmod 600 {path}` and start again")
    return _non_empty(text.strip(), f"--token-file {path}")


def _non_empty(token: str, where: str) -> str:
    if not token:
        raise OSError(f"{where}: the token is empty")
    return token
