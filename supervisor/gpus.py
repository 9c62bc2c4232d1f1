"""GPU policy: no two jobs share a GPU; queued jobs start in FIFO order as their GPUs free up."""

from __future__ import annotations

from typing import Iterable

from supervisor.records import JobRecord


def startable(queued: Iterable[JobRecord], active: Iterable[JobRecord]) -> list[JobRecord]:
    """Queued jobs (in FIFO order) that may start now.

    A queued job that cannot start yet reserves its GPUs, so a later job never overtakes an
    earlier one on a shared GPU. CPU jobs (no GPUs) always start.
    """
    claimed: set[int] = set()
    for record in active:
        claimed.update(record.gpus)
    ready = []
    for record in sorted(queued, key=lambda r: r.order):
        wanted = set(record.gpus)
        if not wanted & claimed:
            ready.append(record)
        claimed |= wanted
    return ready
