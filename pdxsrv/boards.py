"""VisualDL servers for tasks' training logs: one per task, started on demand, stopped with the task or pdxsrv.

Each board is `python -m visualdl.server.app --logdir <task>/output/vdl_log --host 127.0.0.1
--port P --public-path /vdl/<tid> --language en --disable-telemetry` (English pages without an
Accept-Language header; no calls home), a child of the web front on a free loopback port. It is
reached only through pdxsrv's proxy at `/vdl/<tid>/...` (`pdxsrv.api.vdl`), under the API's token;
its own paths are the proxied ones, so its pages' links work unchanged. It is ready when
`GET /alive` answers; its scalars are at `/vdl/<tid>/api/scalar/tags` and `.../scalar/list`.
On Linux a board gets SIGTERM when pdxsrv dies, so a crash leaves none behind.

Tickets let a browser, which cannot send the Authorization header when it opens a link, into one
task's board: `<expiry>.<hmac-sha256(secret, tid:expiry)>` with a secret drawn at start (so a
restart of pdxsrv invalidates them all).
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import hmac
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from pdxsrv.api.errors import NotAvailable

START_TIMEOUT = 30.0
LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


@dataclass
class Board:
    """A running VisualDL server."""

    logdir: str
    port: int
    process: subprocess.Popen


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def public_path(tid: str) -> str:
    """Where a task's board lives, on the board and behind pdxsrv alike."""
    return f"/vdl/{tid}"


class Boards:
    """The VisualDL servers of this pdxsrv, by task id (always on loopback: only pdxsrv reaches them)."""

    def __init__(self) -> None:
        self.host = LOOPBACK
        self.boards: dict[str, Board] = {}
        self._lock = asyncio.Lock()
        self._secret = secrets.token_bytes(32)

    def port(self, tid: str) -> int | None:
        """The port of the task's running board, if any."""
        board = self.boards.get(tid)
        return board.port if board is not None and board.process.poll() is None else None

    def ticket(self, tid: str, ttl: float) -> str:
        """A ticket into the board of `tid`, valid `ttl` seconds."""
        expiry = int(time.time() + ttl)
        return f"{expiry}.{self._sign(tid, expiry)}"

    def valid(self, tid: str, ticket: str | None) -> bool:
        """Whether `ticket` admits to the board of `tid` now."""
        expiry, _, mac = (ticket or "").partition(".")
        if not expiry.isdigit() or int(expiry) < time.time():
            return False
        return hmac.compare_digest(mac, self._sign(tid, int(expiry)))

    def _sign(self, tid: str, expiry: int) -> str:
        return hmac.new(self._secret, f"{tid}:{expiry}".encode(), hashlib.sha256).hexdigest()

    async def port_for(self, tid: str, logdir: str) -> int:
        """The port of the task's board, started (and waited for) unless one is running on `logdir`."""
        async with self._lock:
            board = self.boards.get(tid)
            if board is not None and board.process.poll() is None and board.logdir == logdir:
                return board.port
            self.stop(tid)
            port = _free_port(self.host)
            log = open(os.path.join(os.path.dirname(logdir), "visualdl.log"), "ab")
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "visualdl.server.app", "--logdir", logdir, "--host", self.host,
                     "--port", str(port), "--public-path", public_path(tid), "--language", "en",
                     "--disable-telemetry"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
            finally:
                log.close()
            self.boards[tid] = Board(logdir, port, process)
            await self._wait_live(tid)
            return port

    async def _wait_live(self, tid: str) -> None:
        board = self.boards[tid]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        url = f"http://{self.host}:{board.port}/alive"
        while loop.time() < deadline:
            if board.process.poll() is not None:
                self.boards.pop(tid, None)
                raise NotAvailable(f"the VisualDL server exited with code {board.process.returncode}; "
                                   f"see {os.path.join(os.path.dirname(board.logdir), 'visualdl.log')}")
            if await loop.run_in_executor(None, _answers, url):
                return
            await asyncio.sleep(0.2)
        self.stop(tid)
        raise NotAvailable(f"the VisualDL server did not start within {START_TIMEOUT:g} s; try again")

    def stop(self, tid: str) -> None:
        """Stop the task's board, if any."""
        board = self.boards.pop(tid, None)
        if board is None or board.process.poll() is not None:
            return
        board.process.terminate()
        try:
            board.process.wait(5)
        except subprocess.TimeoutExpired:
            board.process.kill()
            board.process.wait()

    def close(self) -> None:
        """Stop every board."""
        for tid in list(self.boards):
            self.stop(tid)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False
