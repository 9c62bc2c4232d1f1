"""A full disk (issue 17, finding 1): a failed append is undone, answered `disk_full`, and the next one succeeds.

The server test uses a real 8 MiB tmpfs when run as root (CI is); the in-process tests inject ENOSPC
(or EIO) at the OS call the log makes, so they run everywhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import subprocess
import threading
from typing import Any, Callable

import pytest

from eventlog import LogWriteFailed, SnapshotStore, read_records, verify
from pdxsrv import store as store_module
from pdxsrv.domain import commands
from pdxsrv.store import DiskFull, StorageFailed, Store, events_dir
from supervisor.journal import read_from
from supervisor.report import Reporter
from tests.conftest import Server, pdxsrv


def fail_writes_to(path_part: str, monkeypatch: pytest.MonkeyPatch, error: int = errno.ENOSPC,
                   call: str = "write", partial: bool = True, once: bool = False) -> Callable[[], None]:
    """Make os.<call> fail with `error` on files whose path contains `path_part` (a write first lands half;
    `once`: only the first call fails)."""
    real = getattr(os, call)
    state = {"on": True}

    def fake(fd: int, *args: Any) -> Any:
        if state["on"] and path_part in os.readlink(f"/proc/self/fd/{fd}"):
            if call == "write" and partial and len(args[0]) > 1:
                real(fd, bytes(args[0])[: len(args[0]) // 2])
            state["on"] = not once
            raise OSError(error, os.strerror(error))
        return real(fd, *args)

    monkeypatch.setattr(os, call, fake)
    return lambda: state.update(on=False)


def datasets(store: Store) -> list[str]:
    return sorted(store.state.datasets)


async def create(store: Store, name: str) -> str:
    (record,) = await store.execute(commands.create_dataset, name, "", "classification")
    return record.data["id"]


def test_enospc_fails_the_whole_group_commit_and_leaves_the_durable_state(tmp_path, monkeypatch) -> None:
    ws = str(tmp_path / "ws")

    async def main() -> None:
        store = Store(ws)
        assert await create(store, "kept") == "D0001"
        size = os.path.getsize(store.log._segment_path)
        heal = fail_writes_to(".seg", monkeypatch)
        results = await asyncio.gather(*(create(store, f"lost{i}") for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, DiskFull) for r in results), results
        assert results[0].code == "disk_full" and "free space" in results[0].message.lower()
        assert store.state.seq == 1 and datasets(store) == ["D0001"]
        assert (await store.durable_state()).seq == 1  # reads go on while the disk is full
        assert os.path.getsize(store.log._segment_path) == size  # cut back to the last whole frame
        assert store.feed.after(0) == [] or [r.seq for r in store.feed.after(0)] == [1]
        assert isinstance((await asyncio.gather(create(store, "again"), return_exceptions=True))[0], DiskFull)
        heal()
        assert await create(store, "after") == "D0002"  # no restart
        await store.aclose()

    asyncio.run(main())
    report = verify(events_dir(ws))
    assert report.ok and report.problem is None and report.last_seq == 2
    reopened = Store(ws)
    try:
        assert {d.name for d in reopened.state.datasets.values()} == {"kept", "after"}
    finally:
        reopened.log.close()


def test_a_failed_fdatasync_is_undone_too(tmp_path, monkeypatch) -> None:
    ws = str(tmp_path / "ws")

    async def main() -> None:
        store = Store(ws)
        fail_writes_to(".seg", monkeypatch, errno.EIO, call="fdatasync", once=True)
        with pytest.raises(StorageFailed) as exc:
            await create(store, "lost")
        assert exc.value.code == "storage_failed" and not isinstance(exc.value, DiskFull)
        assert store.state.seq == 0
        assert await create(store, "kept") == "D0001"
        await store.aclose()

    asyncio.run(main())
    assert [r.data["name"] for r in read_records(events_dir(ws))] == ["kept"]


def test_when_the_cut_fails_too_the_log_stops_but_reads_go_on(tmp_path, monkeypatch) -> None:
    ws = str(tmp_path / "ws")

    async def main() -> None:
        store = Store(ws)
        await create(store, "kept")
        heals.append(fail_writes_to(".seg", monkeypatch))
        heals.append(fail_writes_to(".seg", monkeypatch, errno.EIO, call="ftruncate"))
        with pytest.raises(StorageFailed, match="Restart pdxsrv"):
            await create(store, "lost")
        with pytest.raises(StorageFailed, match="Restart pdxsrv"):
            await create(store, "refused")
        assert (await store.durable_state()).seq == 1 and datasets(store) == ["D0001"]
        store.log.close()

    heals: list[Callable[[], None]] = []
    asyncio.run(main())
    for heal in heals:
        heal()
    reopened = Store(ws)  # open truncates the torn half frame
    try:
        assert datasets(reopened) == ["D0001"] and reopened.log.recovered is not None
    finally:
        reopened.log.close()


def test_a_failed_snapshot_leaves_nothing_and_is_tried_again(tmp_path, monkeypatch) -> None:
    ws = str(tmp_path / "ws")
    monkeypatch.setattr(store_module, "SNAPSHOT_RETRY", 0.0)

    async def main() -> None:
        store = Store(ws, snapshot_every=2)
        heal = fail_writes_to(".snap", monkeypatch, call="fsync")
        for name in ("a", "b"):
            await create(store, name)
        while store._snapshotting is not None:
            await asyncio.sleep(0.01)
        assert os.listdir(os.path.join(ws, ".pdxsrv", "snapshots")) == []  # no temp file, no snapshot
        heal()
        await create(store, "c")
        while store._snapshotting is not None:
            await asyncio.sleep(0.01)
        assert SnapshotStore(os.path.join(ws, ".pdxsrv", "snapshots")).seqs() == [3]
        await store.aclose()

    asyncio.run(main())


def test_a_job_journal_survives_a_full_disk(tmp_path, monkeypatch, capsys) -> None:
    reporter = Reporter("J", str(tmp_path / "job"), None)
    reporter.metric(step=1)
    heal = fail_writes_to(os.path.join("job", "journal"), monkeypatch)
    assert reporter.progress(step=2) == {}
    assert "progress not recorded" in capsys.readouterr().err
    with pytest.raises(LogWriteFailed):
        reporter.metric(step=3)
    heal()
    reporter.metric(step=4)
    reporter.close()
    records = list(read_from(str(tmp_path / "job"), 1))
    assert [(r["seq"], r["data"]["step"]) for r in records] == [(1, 1), (2, 4)]
    assert verify(os.path.join(str(tmp_path / "job"), "journal")).problem is None


# -- a real full filesystem and the real server (root only) ------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the injected-ENOSPC tests above cover the logic")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield str(mount)
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: str) -> str:
    """Fill the filesystem of `directory` to the last byte; return the filler's path."""
    path = os.path.join(directory, "filler")
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return path


def test_a_full_disk_answers_disk_full_and_recovers_without_restart(small_disk, serve) -> None:
    ws = os.path.join(small_disk, "ws")
    server: Server = serve(ws, "--honest-status", "--weights-dir", os.path.join(small_disk, "weights"))
    acknowledged = set()
    assert server.request("POST", "/dataset", {"name": "before", "dataset_type": "classification"})[1]["did"] == "D0001"
    acknowledged.add("before")
    filler = fill(small_disk)

    def post(name: str) -> tuple[int, Any]:
        return server.request("POST", "/dataset", {"name": name, "dataset_type": "classification",
                                                   "desc": "x" * 900})

    for i in range(50):  # the segment's last page may still hold a frame or two
        status, body = post(f"fits{i}")
        if body["status"] == -1:
            assert (status, body["code"]) == (507, "disk_full"), body
            break
        acknowledged.add(f"fits{i}")
    else:
        raise AssertionError("the full disk never refused a write")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, [f"full{i}" for i in range(16)]))
    for status, body in answers:
        assert (status, body["status"], body["code"]) == (507, -1, "disk_full"), (status, body)
    assert "free space" in answers[0][1]["message"].lower() and ws in answers[0][1]["message"]
    status, listing = server.request("GET", "/dataset")  # reads answer while the disk is full
    assert status == 200 and {d["attr"]["name"] for d in listing["datasets"]} == acknowledged

    os.remove(filler)
    status, body = post("after")
    assert status == 200 and body["did"] == f"D{len(acknowledged) + 1:04d}", body  # no restart; undone creates took no IDs
    acknowledged.add("after")
    threads = [threading.Thread(target=post, args=(f"more{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acknowledged.update(f"more{i}" for i in range(4))

    assert server.stop() == 0
    check = pdxsrv("events", "verify", "--workspace", ws)
    assert check.returncode == 0, check.stdout + check.stderr
    again = serve(ws, "--weights-dir", os.path.join(small_disk, "weights"))
    names = {d["attr"]["name"] for d in again.request("GET", "/dataset")[1]["datasets"]}
    assert names == acknowledged  # nothing acknowledged lost, nothing unacknowledged present
