"""A file server on 127.0.0.1 for download tests: serves `files` under `/<prefix>/`, honours Range, logs requests,
and can slow a transfer down or break one off midway."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from typing import Any


class HttpMirror(http.server.ThreadingHTTPServer):
    """Serves `files` (name -> bytes) at `url`/<name>; `requests` logs (name, Range header) of every GET."""

    daemon_threads = True

    def __init__(self, prefix: str = "files") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.prefix = prefix
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.slow: float = 0.0  # seconds to sleep per 64 KiB sent (to catch a download in flight)
        self.break_after: dict[str, int] = {}  # name -> bytes to send before closing the connection (once)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL the files are served under."""
        return f"http://127.0.0.1:{self.server_address[1]}/{self.prefix}"

    @property
    def ranges(self) -> list[str | None]:
        """The Range header of each request for a file other than a `.sha256`."""
        return [rng for name, rng in self.requests if not name.endswith(".sha256")]

    def hits(self, name: str) -> int:
        """How many times `name` was asked for."""
        return sum(1 for asked, _ in self.requests if asked == name)

    def publish(self, name: str, body: bytes, digest: str | None = None) -> None:
        """Serve `name` and `name.sha256` (sha256sum's format; `digest` overrides the true one)."""
        self.files[name] = body
        self.files[name + ".sha256"] = f"{digest or hashlib.sha256(body).hexdigest()}  {name}\n".encode()

    def close(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET /<prefix>/<name>."""

    server: HttpMirror

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        name = self.path.rsplit("/", 1)[-1]
        self.server.requests.append((name, self.headers.get("Range")))
        body = self.server.files.get(name)
        if body is None or not self.path.startswith(f"/{self.server.prefix}/"):
            self.send_error(404)
            return
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        if start >= len(body) > 0:
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        stop = len(body)
        if name in self.server.break_after:
            stop = min(stop, start + self.server.break_after.pop(name))
        for at in range(start, stop, 1 << 16):
            self.wfile.write(body[at:min(at + (1 << 16), stop)])
            if self.server.slow:
                time.sleep(self.server.slow)
        if stop < len(body):
            self.close_connection = True  # the client sees a short body: the transfer broke off

    def log_message(self, *args: Any) -> None:
        """Quiet."""
