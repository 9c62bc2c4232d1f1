"""GET /events/stream: workspace events as Server-Sent Events, live.

Each event is sent once it is durable, as::

    id: <seq>
    event: <type>
    data: {"seq": ..., "ts": ..., "type": ..., "v": ..., "data": {...}}

Values that are not JSON (msgpack bytes) are sent as base64 text. Filters: `tid`, `did`, `pid`
(events about that object: `subjects`), `type` (a type or a glob such as
`task.*`; repeatable as a list). A reconnecting client sends `Last-Event-ID` (or `since`) and
gets every matching event after that seq, from memory or from the log. A comment line is sent
every 15 s of silence so proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
from typing import Any

from tornado.iostream import StreamClosedError

from eventlog import Record
from pdxsrv import limits
from pdxsrv.api.base import APIHandler
from pdxsrv.api.spec import ArgumentError

KEEPALIVE = 15.0
SUBJECT_KEYS = ("id", "tid", "did", "pid", "subject", "job")


def subjects(record: Record) -> set[str]:
    """The IDs an event is about."""
    data = record.data if isinstance(record.data, dict) else {}
    return {data[k] for k in SUBJECT_KEYS if isinstance(data.get(k), str)}


def matches(record: Record, wanted: set[str], types: list[str]) -> bool:
    """Whether `record` is about one of `wanted` (if any) and of one of `types` (names or globs, if any)."""
    if wanted and not wanted & subjects(record):
        return False
    return not types or any(fnmatch.fnmatchcase(record.type, t) for t in types)


class EventStreamHandler(APIHandler):
    """GET: follow the workspace's events."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")

    async def get(self) -> None:
        last = self._start()
        wanted = {self.args[k] for k in ("tid", "did", "pid") if self.args[k] is not None}
        types = self.args["type"] or []
        feed, log = self.store.feed, self.store.log
        try:
            await self.flush()  # the headers: the client knows it is connected
        except StreamClosedError:
            return
        while not self.request.connection.stream.closed():
            records = feed.after(last)
            if records is None:  # older than what is kept in memory: read the log, off the loop
                until = feed.durable_seq
                records = await asyncio.get_running_loop().run_in_executor(None, _read, log, last + 1, until)
            try:
                for record in records:
                    last = record.seq
                    if matches(record, wanted, types):
                        self.write(_frame(record))
                if not records:
                    self.write(": keep-alive\n\n")
                await self.flush()
            except StreamClosedError:
                return
            await feed.wait(last, KEEPALIVE)

    def _start(self) -> int:
        header = self.request.headers.get("Last-Event-ID")
        since = self.args["since"]
        if header is not None:
            if not header.strip().isdigit():
                raise ArgumentError(f"Last-Event-ID must be an event seq, got {header!r}")
            return int(header)
        return since if since is not None else self.store.feed.durable_seq


def _read(log: Any, first: int, until: int) -> list[Record]:
    out = []
    for record in log.read(first):
        if record.seq > until:
            break
        out.append(record)
    return out


def as_json(record: Record) -> dict[str, Any]:
    """A record as the API sends it: {seq, ts, type, v, data}."""
    return {"seq": record.seq, "ts": record.ts, "type": record.type, "v": record.v, "data": record.data}


def json_value(value: Any) -> Any:
    """`json.dumps`' default: bytes (msgpack bin) as base64 text, anything else as its str."""
    return base64.b64encode(value).decode() if isinstance(value, (bytes, bytearray)) else str(value)


def _frame(record: Record) -> str:
    body = limits.json_text(as_json(record), default=json_value)
    return f"id: {record.seq}\nevent: {record.type}\ndata: {body}\n\n"
