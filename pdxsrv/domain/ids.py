"""IDs: a prefix and a number from a monotonic counter (`D0001`, `P0001`, `T0001`, `PM0001`, `EM0001`)."""

from __future__ import annotations

import re
from typing import Iterable

DATASET, PROJECT, TASK, PRETRAINED_MODEL, EXPORTED_MODEL = "D", "P", "T", "PM", "EM"
_ID = re.compile(r"^(D|P|T|PM|EM)(\d{4,})$")


def format_id(prefix: str, number: int) -> str:
    """`D` and 7 give `D0007`; numbers past 9999 keep all their digits (`D10000`)."""
    return f"{prefix}{number:04d}"


def parse_id(value: str) -> tuple[str, int] | None:
    """Split an ID into (prefix, number), or None if it is not one."""
    match = _ID.match(value) if isinstance(value, str) else None
    return (match.group(1), int(match.group(2))) if match else None


def in_allocation_order(ids: Iterable[str]) -> list[str]:
    """IDs of one prefix sorted as allocated (`D9999` before `D10000`); two C-level sorts, no key tuples."""
    return sorted(sorted(ids), key=len)
