"""Reading a job's journal (an eventlog directory `<cwd>/journal/`); readers need no lock."""

from __future__ import annotations

import os
from typing import Any, Iterator

from eventlog import Record, read_records

JOURNAL_DIR = "journal"


def journal_dir(cwd: str) -> str:
    """The journal directory of the job running in `cwd`."""
    return os.path.join(cwd, JOURNAL_DIR)


def record_map(record: Record) -> dict[str, Any]:
    """A journal record as the protocol's map {seq, ts, type, v, data}."""
    return {"seq": record.seq, "ts": record.ts, "type": record.type, "v": record.v, "data": record.data}


def read_from(cwd: str, seq: int, until: int | None = None) -> Iterator[dict[str, Any]]:
    """Records with seq >= `seq` (and <= `until` if given), as maps; none if there is no journal."""
    directory = journal_dir(cwd)
    if not os.path.isdir(directory):
        return
    for record in read_records(directory, max(1, seq)):
        if until is not None and record.seq > until:
            return
        yield record_map(record)
