"""GET /events/log: the workspace's event log, newest first, a page at a time (read-only; an extension).

Answer: ``{"status": 1, "events": [{"seq", "ts", "type", "v", "data"}, ...], "next_before": int | null}``,
at most `limit` events with seq < `before` (default: all durable ones), newest first. `id` keeps the
events about that object (a did, pid, tid, pmid, emid or job id, as /events/stream's filters: the
`id`, `tid`, `did`, `pid`, `subject` or `job` of its data), `type` the events of those types (names or
globs such as `task.*`). `next_before` is the `before` of the next (older) page, null on the last.
The segments are read in a thread, newest first, decoding only the frames looked at.
"""

from __future__ import annotations

import asyncio
from typing import Any

from eventlog.reader import read_newest_first
from pdxsrv import limits
from pdxsrv.api.base import APIHandler
from pdxsrv.api.events_stream import as_json, json_value, matches
from pdxsrv.api.spec import ArgumentError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class EventLogHandler(APIHandler):
    """GET a page of the log."""

    async def get(self) -> None:
        before, limit = self.args["before"], self.args["limit"]
        if not 1 <= limit <= MAX_LIMIT:
            raise ArgumentError(f"argument 'limit' must be from 1 to {MAX_LIMIT}, got {limit}")
        if before is not None and before < 1:
            raise ArgumentError(f"argument 'before' must be a seq (1 or more), got {before}")
        log = self.store.log
        until = log.durable_seq
        wanted = {self.args["id"]} if self.args["id"] else set()
        events, more = await asyncio.get_running_loop().run_in_executor(
            None, page, log.directory, before or until + 1, until, wanted, self.args["type"] or [], limit)
        next_before = events[-1]["seq"] if more else None
        self.finish(limits.json_text({"status": 1, "events": events, "next_before": next_before}, default=json_value))


def page(directory: str, before: int, until: int, wanted: set[str], types: list[str],
         limit: int) -> tuple[list[dict[str, Any]], bool]:
    """(up to `limit` matching events before `before`, newest first; whether older ones may match)."""
    out: list[dict[str, Any]] = []
    for record in read_newest_first(directory, before, until):
        if matches(record, wanted, types):
            if len(out) == limit:
                return out, True
            out.append(as_json(record))
    return out, False
