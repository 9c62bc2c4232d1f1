"""Event-log benchmark: three ratios, each against a baseline measured in the same run.

(a) durable appends/s: 64 concurrent appenders through group commit, vs the same appends made one
    at a time (one fdatasync per event);
(b) replay events/s of a 1M-event log (`read_records`: CRC, decode, seq check, Record), vs a plain
    loop of `crc32 + msgpack.unpackb` over the same bytes;
(c) open time of a 1M-event workspace (`pdxsrv.store.Store`: lock, tail recovery, state) with
    and without a snapshot.

Usage: python bench/eventlog_bench.py [--events 1000000] [--appenders 64] [--appends 40] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import struct
import sys
import tempfile
import time
import zlib

import msgpack

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eventlog import Event, EventLog, SnapshotStore, read_records  # noqa: E402
from eventlog.segments import list_segments, read_file  # noqa: E402
from pdxsrv.domain import events as ev  # noqa: E402
from pdxsrv.domain.codec import SNAPSHOT_VERSION, to_data  # noqa: E402
from pdxsrv.store import Store, events_dir, snapshots_dir  # noqa: E402


def bench_appends(directory: str, appenders: int, appends: int) -> tuple[float, float, int]:
    """(group-commit appends/s, one-fsync-per-event appends/s, syncs used by group commit)."""
    payload = {"id": "D0001", "changes": {"name": "x" * 40}}

    async def run(serial: bool, path: str) -> tuple[float, int]:
        log = EventLog(path)
        lock = asyncio.Lock()

        async def appender() -> None:
            for _ in range(appends):
                if serial:
                    async with lock:  # nobody shares a sync: one fdatasync per event
                        await log.append([Event("dataset.attributes_set", payload)])
                else:
                    await log.append([Event("dataset.attributes_set", payload)])

        start = time.perf_counter()
        await asyncio.gather(*(appender() for _ in range(appenders)))
        elapsed = time.perf_counter() - start
        syncs = log.syncs
        await log.aclose()
        return appenders * appends / elapsed, syncs

    grouped, syncs = asyncio.run(run(False, os.path.join(directory, "grouped")))
    serial, _ = asyncio.run(run(True, os.path.join(directory, "serial")))
    return grouped, serial, syncs


def make_big_workspace(root: str, count: int) -> None:
    """A workspace whose log holds `count` realistic events (1,000 datasets, then renames)."""
    with EventLog(events_dir(root)) as log:
        batch: list[Event] = []
        for i in range(count):
            if i < 1000:
                e = ev.DatasetCreated(f"D{i + 1:04d}", f"dataset {i}", "generated", "classification")
            else:
                e = ev.DatasetAttributesSet(f"D{i % 1000 + 1:04d}", {"name": f"renamed {i}", "desc": "bench"})
            batch.append(ev.to_log_event(e))
            if len(batch) == 10_000:
                log.append_sync(batch)
                batch = []
        log.append_sync(batch)


def bench_replay(directory: str) -> tuple[float, float, int]:
    """(read_records events/s, plain crc32+unpackb loop events/s, events); best of 3 each."""
    segments = [read_file(s.path) for s in list_segments(directory)]
    header = struct.Struct("<II")

    def plain() -> int:
        n = 0
        for buf in segments:
            view, pos, end = memoryview(buf), 0, len(buf)
            while pos < end:
                length, crc = header.unpack_from(buf, pos)
                payload = view[pos + 8 : pos + 8 + length]
                if zlib.crc32(payload) != crc:
                    raise ValueError("crc")
                msgpack.unpackb(payload)
                pos += 8 + length
                n += 1
        return n

    def ours() -> int:
        n = 0
        for _ in read_records(directory):
            n += 1
        return n

    results = []
    for fn in (ours, plain):
        best, n = float("inf"), 0
        for _ in range(3):
            start = time.perf_counter()
            n = fn()
            best = min(best, time.perf_counter() - start)
        results.append(n / best)
    return results[0], results[1], n


def bench_open(root: str) -> tuple[float, float, int]:
    """(open seconds without a snapshot, with a snapshot at the last seq, events)."""
    store_dir = snapshots_dir(root)
    shutil.rmtree(store_dir, ignore_errors=True)

    def open_once() -> tuple[float, object]:
        start = time.perf_counter()
        store = Store(root)
        elapsed = time.perf_counter() - start
        state = store.state
        store.log.close()
        return elapsed, state

    cold, state = open_once()
    SnapshotStore(store_dir).write(state.seq, to_data(state), SNAPSHOT_VERSION)
    warm = min(open_once()[0] for _ in range(3))
    return cold, warm, state.seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appenders", type=int, default=64)
    parser.add_argument("--appends", type=int, default=40, help="appends per appender")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir on the working disk)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="pdxsrv-bench-", dir=args.dir)
    try:
        grouped, serial, syncs = bench_appends(base, args.appenders, args.appends)
        total = args.appenders * args.appends
        print(f"(a) durable appends, {args.appenders} concurrent appenders, {total} appends each way:")
        print(f"    group commit {grouped:,.0f}/s ({syncs} syncs), one fsync per event {serial:,.0f}/s, "
              f"ratio {grouped / serial:.1f}x")
        root = os.path.join(base, "ws")
        start = time.perf_counter()
        make_big_workspace(root, args.events)
        print(f"    (wrote a {args.events:,}-event log in {time.perf_counter() - start:.1f} s, "
              f"{sum(os.path.getsize(s.path) for s in list_segments(events_dir(root))) / 1e6:.0f} MB)")
        ours, plain, n = bench_replay(events_dir(root))
        print(f"(b) replay of {n:,} events: read_records {ours:,.0f}/s, plain crc32+unpackb loop {plain:,.0f}/s, "
              f"ratio {ours / plain:.2f}x")
        cold, warm, seq = bench_open(root)
        print(f"(c) open of a {seq:,}-event workspace: without snapshot {cold:.2f} s, with snapshot {warm:.3f} s, "
              f"ratio {cold / warm:.0f}x")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
