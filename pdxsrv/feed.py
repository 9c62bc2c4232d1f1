"""The feed of durable workspace events that live clients (Server-Sent Events) follow."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Iterable

from eventlog import Record


class Feed:
    """Recent records in memory, and a wake-up for followers when more become durable."""

    def __init__(self, keep: int = 10_000) -> None:
        self._recent: deque[Record] = deque(maxlen=keep)
        self._changed = asyncio.Event()
        self.durable_seq = 0

    def add(self, records: Iterable[Record]) -> None:
        """Records just accepted by the log (not yet durable: followers do not see them yet)."""
        self._recent.extend(records)

    def discard_after(self, seq: int) -> None:
        """Forget records past `seq`: the log could not write them."""
        while self._recent and self._recent[-1].seq > seq:
            self._recent.pop()

    def durable(self, seq: int) -> None:
        """Everything up to `seq` is on disk: wake the followers."""
        if seq > self.durable_seq:
            self.durable_seq = seq
            self._changed.set()
            self._changed = asyncio.Event()

    def after(self, seq: int) -> list[Record] | None:
        """Durable records with seq > `seq`, or None if some of them are no longer in memory (read the log)."""
        if seq >= self.durable_seq:
            return []
        if not self._recent or self._recent[0].seq > seq + 1:
            return None
        start = seq + 1 - self._recent[0].seq
        return [self._recent[i] for i in range(start, len(self._recent)) if self._recent[i].seq <= self.durable_seq]

    async def wait(self, seq: int, timeout: float) -> None:
        """Return when records past `seq` are durable, or after `timeout` seconds."""
        if seq < self.durable_seq:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass
