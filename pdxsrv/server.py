"""`pdxsrv serve`: the web front's lifecycle (open the workspace, listen, stop cleanly)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import tornado.httpserver
import tornado.web

from pdxsrv import files
from pdxsrv.api import vdl
from pdxsrv.api.base import Context, NotFoundHandler
from pdxsrv.api.oversize import HTTP_SERVER_OPTIONS, LimitedApplication
from pdxsrv.api.routes import make_routes
from pdxsrv.api.web import web_routes
from pdxsrv.boards import Boards
from pdxsrv.listen import listen, reserve
from pdxsrv.store import DEFAULT_SNAPSHOT_EVERY, Store
from pdxsrv.supervision import Supervision
from pdxsrv.weights import WeightsConfig
from supervisor import protocol
from supervisor.client import SupervisorError, SupervisorUnavailable

log = logging.getLogger("pdxsrv")


def make_app(ctx: Context) -> tornado.web.Application:
    """The Tornado application over one workspace."""
    return LimitedApplication(
        ctx,
        [*web_routes(), *vdl.routes(ctx), *make_routes(ctx)],  # the console, the VisualDL proxy, the API
        default_handler_class=NotFoundHandler,
        default_handler_args={"ctx": ctx},
    )


def read_legacy_demo(path: str) -> str:
    """The text of the operator's copy of the original web demo page; OSError naming the file if unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise OSError(f"--legacy-demo {path}: cannot read the page ({exc})") from None


async def serve(
    workspace: str,
    host: str,
    port: int,
    *,
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
    allow_paths: tuple[str, ...] = (),
    token: str | None = None,
    honest_status: bool = False,
    supervise: bool = True,
    demo_mirror: str | None = None,
    weights: WeightsConfig | None = None,
    cors_origins: tuple[str, ...] = (),
    legacy_demo: str | None = None,
    supervisor_idle_exit: float = protocol.DEFAULT_IDLE_EXIT,
    step_costs: str | None = None,
) -> None:
    """Serve `workspace` until SIGTERM or SIGINT, then snapshot and release it (`weights`: default cache, online;
    `step_costs`: this machine's step-cost file, None for the reference table alone)."""
    page = read_legacy_demo(legacy_demo) if legacy_demo else None
    sockets = reserve(host, port)  # first: a port in use leaves no workspace and no supervisor behind
    try:
        store = Store(workspace, snapshot_every=snapshot_every)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if store.log.recovered is not None:
        log.warning("the event log ended with a torn frame (a crash during a write); it was truncated")
    log.info("workspace %s: %d events, state at seq %d", store.root, store.log.last_seq, store.state.seq)
    for path in files.remove_orphans(store.root, store.state):
        log.info("removed %s: what it belonged to was deleted before a crash could clean it up", path)
    supervision = Supervision(store, idle_exit=supervisor_idle_exit) if supervise else None
    if supervision is not None:
        try:
            await supervision.start()
        except (SupervisorUnavailable, SupervisorError, OSError) as exc:
            await supervision.close()
            await store.aclose()
            for sock in sockets:
                sock.close()
            if isinstance(exc, OSError):
                raise
            raise OSError(f"cannot reach or start the job supervisor at {supervision.endpoint}: {exc}") from None
    roots = (store.root, *(os.path.realpath(p) for p in allow_paths))
    boards = Boards()  # on loopback: reached only through /vdl/<tid>/, under the token
    ctx = Context(store, roots, token, honest_status, supervision, boards, demo_mirror or None,
                  weights or WeightsConfig(), tuple(cors_origins), page, step_costs)
    server = tornado.httpserver.HTTPServer(make_app(ctx), xheaders=False, **HTTP_SERVER_OPTIONS)
    listen(sockets)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    log.info("pdxsrv listening on http://%s:%d", host, bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: no new requests, finishing the log, writing a snapshot")
    server.stop()
    await server.close_all_connections()
    boards.close()
    if supervision is not None:
        await supervision.close()  # the supervisor and its jobs keep running
    await store.aclose()
    log.info("stopped cleanly at seq %d", store.state.seq)
