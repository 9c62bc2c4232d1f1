"""`pdxsrv serve`: serve a workspace over HTTP (the PaddleX RESTful API)."""

from __future__ import annotations

import argparse
import asyncio

from pdxsrv.cli.options import add_weights_dir, add_weights_mirror, http_url, web_origin


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
    serve.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' on every request")
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
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """pdxsrv serve: run until SIGTERM or SIGINT."""
    from pdxsrv.server import serve
    from pdxsrv.weights import WeightsConfig, default_dir

    weights = WeightsConfig(args.weights_dir or default_dir(), args.weights_mirror, args.offline)
    asyncio.run(serve(
        args.workspace, args.host, args.port, snapshot_every=args.snapshot_every,
        allow_paths=tuple(args.allow_path), token=args.token, honest_status=args.honest_status,
        supervise=not args.no_supervisor, demo_mirror=args.demo_mirror, weights=weights,
        cors_origins=tuple(args.cors_origin), legacy_demo=args.legacy_demo,
    ))
    return 0
