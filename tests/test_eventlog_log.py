"""The writer's contract: group commit, optimistic concurrency, one writer, readers beside it, snapshots."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from eventlog import (
    Event,
    EventLog,
    LogClosed,
    LogLocked,
    SeqMismatch,
    SnapshotStore,
    load_state,
    read_records,
    repair,
    verify,
)
from eventlog.segments import list_segments


def test_concurrent_appends_share_syncs_and_get_dense_seqs(tmp_path) -> None:
    async def main() -> None:
        log = EventLog(str(tmp_path))
        results = await asyncio.gather(*(log.append([Event("e", i), Event("e", -i)]) for i in range(64)))
        seqs = sorted(r.seq for records in results for r in records)
        assert seqs == list(range(1, 129))
        assert log.durable_seq == 128
        assert log.syncs < 64, f"64 concurrent appends took {log.syncs} syncs: no group commit"
        await log.aclose()

    asyncio.run(main())
    assert [r.data for r in read_records(str(tmp_path))][:2] == [0, 0]


def test_expected_seq_mismatch_appends_nothing(tmp_path) -> None:
    async def main() -> None:
        log = EventLog(str(tmp_path))
        await log.append([Event("a", 1)], expected_seq=0)
        with pytest.raises(SeqMismatch) as info:
            await log.append([Event("a", 2)], expected_seq=0)
        assert (info.value.expected, info.value.actual) == (0, 1)
        assert log.last_seq == 1
        await log.aclose()

    asyncio.run(main())


def test_an_unencodable_event_is_refused_whole(tmp_path) -> None:
    async def main() -> None:
        log = EventLog(str(tmp_path))
        with pytest.raises(TypeError):
            await log.append([Event("ok", 1), Event("bad", object())])
        assert log.last_seq == 0
        assert [r.seq for r in await log.append([Event("ok", 1)])] == [1]
        await log.aclose()

    asyncio.run(main())


def test_one_writer_per_log(tmp_path) -> None:
    with EventLog(str(tmp_path)):
        with pytest.raises(LogLocked) as info:
            EventLog(str(tmp_path))
        assert info.value.pid == os.getpid()
    EventLog(str(tmp_path)).close()  # released on close


def test_closed_log_refuses_appends(tmp_path) -> None:
    log = EventLog(str(tmp_path))
    log.close()
    with pytest.raises(LogClosed):
        log.append_sync([Event("a", 1)])


def test_reading_while_a_writer_appends_sees_a_dense_prefix(tmp_path) -> None:
    d = str(tmp_path)
    done = threading.Event()

    def write() -> None:
        with EventLog(d, segment_bytes=2048) as log:
            for i in range(400):
                log.append_sync([Event("w", {"i": i, "pad": "p" * 40})])
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    while not done.is_set() or reads == 0:
        seqs = [r.seq for r in read_records(d)]
        assert seqs == list(range(1, len(seqs) + 1))
        reads += 1
    writer.join()
    assert len(list(read_records(d))) == 400 and len(list_segments(d)) > 1


def test_snapshots_latest_skips_unreadable_and_newer_than_the_log(tmp_path) -> None:
    store = SnapshotStore(str(tmp_path / "snap"), keep=3)
    for seq in (10, 20, 30, 40):
        store.write(seq, {"sum": seq}, v=2)
    assert store.seqs() == [20, 30, 40]  # pruned to `keep`
    assert store.latest(max_seq=35).seq == 30
    with open(store.path(30), "r+b") as f:
        f.seek(12)
        f.write(b"\xff")
    assert store.latest(max_seq=35).seq == 20, "a corrupt snapshot falls back to an older one"
    assert store.latest(max_seq=100, v=1) is None, "a snapshot of another format version is not used"
    assert store.discard_after(25) and store.seqs() == [20]


def test_load_state_is_snapshot_plus_tail(tmp_path) -> None:
    d, snaps = str(tmp_path / "log"), SnapshotStore(str(tmp_path / "snap"))
    with EventLog(d) as log:
        log.append_sync([Event("add", i) for i in range(1, 101)])
    total = lambda state, record: state + record.data  # noqa: E731
    snaps.write(60, sum(range(1, 61)))
    state, seq, snap = load_state(
        lambda s: read_records(d, s), snaps, last_seq=100, initial=0, apply=total, from_snapshot=int
    )
    assert (state, seq, snap.seq) == (sum(range(1, 101)), 100, 60)


def test_repair_truncates_at_the_first_problem_and_drops_later_snapshots(tmp_path) -> None:
    d, snaps = str(tmp_path / "log"), SnapshotStore(str(tmp_path / "snap"))
    with EventLog(d, segment_bytes=200) as log:
        for i in range(30):
            log.append_sync([Event("e", "x" * 30)])
    snaps.write(29, "late")
    snaps.write(3, "early")
    seg = list_segments(d)[1]
    data = bytearray(open(seg.path, "rb").read())
    data[10] ^= 1
    open(seg.path, "wb").write(bytes(data))
    problem = verify(d).problem
    assert problem and problem.file == seg.path and problem.offset == 0 and not problem.torn_tail
    with EventLog(d, segment_bytes=200):
        with pytest.raises(LogLocked):
            repair(d, str(tmp_path / "snap"))
    assert repair(d, str(tmp_path / "snap")) == problem
    report = verify(d)
    assert report.problem is None and report.last_seq == seg.first_seq - 1
    assert snaps.seqs() == [3]
    with EventLog(d) as log:
        assert log.last_seq == seg.first_seq - 1
        log.append_sync([Event("after-repair", 1)])
