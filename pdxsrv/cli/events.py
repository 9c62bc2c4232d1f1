"""`pdxsrv events ...`: read-only audit commands, plus repair and replay.

`list`, `stats` and `verify` only read: they are safe while a server appends to the workspace (a
frame being written at that moment is not shown). `verify --repair` takes the writer lock and so
refuses to run while the workspace is served. `replay` writes a new workspace and never touches
the original.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import os
import sys
from datetime import datetime
from typing import Any, Iterator

from eventlog import LogLocked, Record, SnapshotStore, copy_prefix, read_records, repair, verify
from eventlog.segments import list_segments
from pdxsrv import limits, restore
from pdxsrv.domain.apply import fold
from pdxsrv.domain.commands import IMPORTED
from pdxsrv.store import events_dir, snapshots_dir


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the `events` subcommands."""
    ls = sub.add_parser("list", help="print events (filter by type, seq or time)")
    _workspace(ls)
    ls.add_argument("--type", action="append", metavar="T", help="event type or glob (dataset.*); repeatable")
    ls.add_argument("--since", metavar="SEQ|ISO-TIME", help="only events at or after this seq or time")
    ls.add_argument("--until", metavar="SEQ|ISO-TIME", help="only events at or before this seq or time")
    ls.add_argument("--json", action="store_true", help="one JSON object per line: seq, ts, time, type, v, data")
    ls.set_defaults(handler=cmd_list)

    ve = sub.add_parser("verify", help="check every frame; report the first problem")
    _workspace(ve)
    ve.add_argument("--repair", action="store_true", help="truncate the log at the first problem")
    ve.set_defaults(handler=cmd_verify)

    rp = sub.add_parser("replay", help="write a new workspace holding the events up to a point")
    _workspace(rp)
    rp.add_argument("--until", required=True, metavar="SEQ|ISO-TIME", help="last seq, or last time, to keep")
    rp.add_argument("--to", required=True, metavar="NEWDIR", help="the new workspace (must not exist or be empty)")
    rp.add_argument("--with-files", action="store_true",
                    help="also bring the files of the objects that exist at that point from this workspace (hard "
                         "links where possible); files deleted or replaced since are listed as not brought back")
    rp.set_defaults(handler=cmd_replay)

    st = sub.add_parser("stats", help="counts by type, sizes, time range, snapshots")
    _workspace(st)
    st.set_defaults(handler=cmd_stats)


def _workspace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True, help="workspace directory")


class Bound:
    """A --since/--until value: a seq (an integer) or a time (ISO 8601; local time if no offset)."""

    def __init__(self, text: str) -> None:
        self.seq: int | None = None
        self.ts: float | None = None
        if text.isdigit():
            self.seq = int(text)
            return
        try:
            self.ts = datetime.fromisoformat(text).timestamp()
        except ValueError:
            raise SystemExit(f"pdxsrv: {text!r} is neither a seq (an integer) nor an ISO time (2026-11-27T10:00)")

    def before(self, record: Record) -> bool:
        """Whether the record comes before this bound."""
        return record.seq < self.seq if self.seq is not None else record.ts < self.ts

    def after(self, record: Record) -> bool:
        """Whether the record comes after this bound."""
        return record.seq > self.seq if self.seq is not None else record.ts > self.ts


def _records(workspace: str, since: Bound | None = None) -> Iterator[Record]:
    directory = events_dir(os.path.realpath(workspace))
    if not os.path.isdir(directory):
        raise SystemExit(f"pdxsrv: {workspace} has no event log ({directory} does not exist)")
    start = since.seq if since is not None and since.seq is not None else 1
    return read_records(directory, max(1, start))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def cmd_list(args: argparse.Namespace) -> int:
    """pdxsrv events list."""
    since = Bound(args.since) if args.since else None
    until = Bound(args.until) if args.until else None
    out = sys.stdout
    for record in _records(args.workspace, since):
        if until is not None and until.after(record):
            break
        if since is not None and since.before(record):
            continue
        if args.type and not any(fnmatch.fnmatchcase(record.type, t) for t in args.type):
            continue
        if args.json:
            line = {"seq": record.seq, "ts": record.ts, "time": _iso(record.ts), "type": record.type,
                    "v": record.v, "data": record.data}
            out.write(limits.json_text(line, default=_jsonable) + "\n")
        else:
            data = limits.json_text(record.data, default=_jsonable)
            out.write(f"{record.seq:>8}  {_iso(record.ts)}  {record.type:<28} {data}\n")
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def cmd_verify(args: argparse.Namespace) -> int:
    """pdxsrv events verify [--repair]."""
    root = os.path.realpath(args.workspace)
    report = verify(events_dir(root))
    print(f"{report.records} events (last seq {report.last_seq}) in {report.segments} segment(s), {report.bytes} bytes")
    problem = report.problem
    if problem is None:
        print("OK: every frame is sound")
        return 0
    kind = "torn frame at the end (a crash during a write; opening truncates it)" if problem.torn_tail else "CORRUPT"
    print(f"{kind}: {problem.file} offset {problem.offset}, seq {problem.seq}: {problem.reason}")
    if not args.repair:
        if not problem.torn_tail:
            print("run again with --repair to truncate the log there (events from that seq on are dropped)")
        return 0 if problem.torn_tail else 1
    try:
        repair(events_dir(root), snapshots_dir(root))
    except LogLocked as exc:
        print(f"pdxsrv: cannot repair: {exc}; stop the server first", file=sys.stderr)
        return 2
    print(f"repaired: truncated {problem.file} at offset {problem.offset}; the log now ends at seq {problem.seq - 1}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """pdxsrv events replay --until X --to NEWDIR."""
    until = Bound(args.until)
    root = os.path.realpath(args.workspace)
    target = os.path.realpath(args.to)
    if os.path.exists(target) and os.listdir(target):
        raise SystemExit(f"pdxsrv: {target} exists and is not empty; give a new directory")
    last = 0
    for record in _records(root):
        if until.after(record):
            break
        last = record.seq
    copied = copy_prefix(events_dir(root), events_dir(target), last)
    state = fold(read_records(events_dir(target)))
    print(
        f"wrote {target}: {copied} events (up to seq {last}); {len(state.datasets)} datasets, "
        f"{len(state.projects)} projects, {len(state.tasks)} tasks"
    )
    if not args.with_files:
        listed = with_files_of(state)
        restore.write_note(target, root, last, False, None, listed)
        if listed:
            print(f"files: none brought; the files of {', '.join(listed)} are missing there (the restored server "
                  f"says so for each); run again with --with-files to bring them from {root}")
        return 0
    outcome = restore.bring(root, target, state, read_records(events_dir(root), last + 1))
    restore.write_note(target, root, last, True, outcome, [])
    print(f"files: brought those of {len(outcome.brought)} objects from {root} ({outcome.linked} hard-linked, "
          f"{outcome.copied} copied, {outcome.bytes / 1e6:.1f} MB)")
    if outcome.gone:
        print(f"could not bring back (deleted or replaced since seq {last}; the restored server says so for each):")
        for oid, why in sorted(outcome.gone.items()):
            print(f"  {oid}: {why}")
    for line in outcome.notes:
        print(f"note: {line}")
    print("exported models are not copied: their records keep the folders they were exported to")
    return 0


def with_files_of(state: Any) -> list[str]:
    """The objects of a state that have files in their workspace (imported datasets, tasks that ran a job,
    pretrained models, prepared demos)."""
    return ([d.id for d in state.datasets.values() if d.status in IMPORTED]
            + [t.id for t in state.tasks.values() if t.jobs] + list(state.pretrained_models)
            + [f"demo-{d.id}" for d in state.demos.values() if d.job])


def cmd_stats(args: argparse.Namespace) -> int:
    """pdxsrv events stats."""
    root = os.path.realpath(args.workspace)
    by_type: collections.Counter[str] = collections.Counter()
    first = last = None
    for record in _records(root):
        by_type[record.type] += 1
        first = first or record
        last = record
    segments = list_segments(events_dir(root))
    size = sum(os.path.getsize(s.path) for s in segments)
    print(f"workspace: {root}")
    print(f"events: {sum(by_type.values())}" + (f" (seq {first.seq}..{last.seq})" if last else ""))
    if last:
        print(f"time: {_iso(first.ts)} .. {_iso(last.ts)}")
    print(f"segments: {len(segments)}, {size} bytes")
    print(f"snapshots at seq: {', '.join(map(str, SnapshotStore(snapshots_dir(root)).seqs())) or 'none'}")
    for name, count in sorted(by_type.items()):
        print(f"  {name:<28} {count}")
    return 0
