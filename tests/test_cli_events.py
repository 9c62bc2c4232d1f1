"""`pdxsrv events list|verify|replay|stats` on real workspaces, also while a server runs."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime

from eventlog import read_records
from eventlog.segments import list_segments
from pdxsrv.domain import commands as c
from pdxsrv.domain.apply import fold
from pdxsrv.store import Store, events_dir, load
from tests.conftest import pdxsrv


def build_workspace(root: str, pause_after: int | None = None) -> float:
    """Create datasets, projects and tasks through the real Store; return a time between two events."""
    middle = 0.0

    async def main() -> None:
        nonlocal middle
        store = Store(root)
        for i in range(6):
            await store.execute(c.create_dataset, f"ds{i}", "", "classification")
            if i == 2:
                time.sleep(0.05)
                middle = time.time()
                time.sleep(0.05)
        await store.execute(c.create_project, "p", "", "classification")
        await store.execute(c.set_attributes, "project", "P0001", {"did": "D0001"})
        await store.execute(c.create_task, "P0001", {"model": "ResNet18"})
        await store.execute(c.delete_dataset, "D0006")
        await store.aclose()

    asyncio.run(main())
    return middle


def snapshot_of_files(directory: str) -> dict[str, bytes]:
    out = {}
    for base, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            out[os.path.relpath(path, directory)] = open(path, "rb").read()
    return out


def test_replay_until_a_seq_or_a_time_gives_the_fold_of_the_prefix(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    middle = build_workspace(ws)
    records = list(read_records(events_dir(ws)))
    before = snapshot_of_files(ws)
    for until, expected_last in (("4", 4), (datetime.fromtimestamp(middle).isoformat(), 3), ("999", len(records))):
        target = str(tmp_path / f"replay-{expected_last}")
        result = pdxsrv("events", "replay", "--workspace", ws, "--until", until, "--to", target)
        assert result.returncode == 0, result.stderr
        replayed = list(read_records(events_dir(target)))
        assert replayed == records[:expected_last]
        state, _ = load(target, lambda s: read_records(events_dir(target), s), expected_last)
        assert state == fold(records[:expected_last])
    assert snapshot_of_files(ws) == before, "replay must not touch the original workspace"
    again = pdxsrv("events", "replay", "--workspace", ws, "--until", "2", "--to", str(tmp_path / "replay-3"))
    assert again.returncode != 0 and "not empty" in again.stderr


def test_list_filters_by_type_seq_and_time_and_prints_json_lines(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    middle = build_workspace(ws)
    out = pdxsrv("events", "list", "--workspace", ws, "--json", "--type", "dataset.*")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert {l["type"] for l in lines} == {"dataset.created", "dataset.deleted"} and len(lines) == 7
    assert all({"seq", "ts", "type", "data"} <= set(l) for l in lines)
    out = pdxsrv("events", "list", "--workspace", ws, "--json", "--since", "2", "--until", "4")
    assert [json.loads(l)["seq"] for l in out.stdout.splitlines()] == [2, 3, 4]
    out = pdxsrv("events", "list", "--workspace", ws, "--json", "--until", datetime.fromtimestamp(middle).isoformat())
    assert [json.loads(l)["seq"] for l in out.stdout.splitlines()] == [1, 2, 3]
    text = pdxsrv("events", "list", "--workspace", ws).stdout
    assert "task.created" in text and "ResNet18" in text
    bad = pdxsrv("events", "list", "--workspace", ws, "--since", "yesterday")
    assert bad.returncode != 0 and "neither a seq" in bad.stderr


def test_verify_reports_corruption_and_repair_truncates_there(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    build_workspace(ws)
    ok = pdxsrv("events", "verify", "--workspace", ws)
    assert ok.returncode == 0 and "OK" in ok.stdout and "10 events" in ok.stdout
    seg = list_segments(events_dir(ws))[0].path
    data = bytearray(open(seg, "rb").read())
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 8 + int.from_bytes(data[pos : pos + 4], "little")
    data[offsets[4] + 12] ^= 0x40  # inside the payload of seq 5
    open(seg, "wb").write(bytes(data))
    bad = pdxsrv("events", "verify", "--workspace", ws)
    assert bad.returncode == 1 and f"offset {offsets[4]}" in bad.stdout and "seq 5" in bad.stdout
    start = pdxsrv("serve", "--workspace", ws, "--port", "0")
    assert start.returncode != 0 and "corrupt" in start.stderr and seg in start.stderr
    fixed = pdxsrv("events", "verify", "--workspace", ws, "--repair")
    assert fixed.returncode == 0 and "ends at seq 4" in fixed.stdout
    assert pdxsrv("events", "verify", "--workspace", ws).returncode == 0


def test_audit_commands_read_a_served_workspace_and_repair_refuses(tmp_path, serve) -> None:
    ws = str(tmp_path / "ws")
    build_workspace(ws)
    server = serve(ws)
    listed = pdxsrv("events", "list", "--workspace", ws, "--json")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 10
    stats = pdxsrv("events", "stats", "--workspace", ws)
    assert stats.returncode == 0 and "events: 10" in stats.stdout and "dataset.created" in stats.stdout
    seg = list_segments(events_dir(ws))[0].path
    data = bytearray(open(seg, "rb").read())
    data[12] ^= 1
    open(seg, "wb").write(bytes(data))
    repair = pdxsrv("events", "verify", "--workspace", ws, "--repair")
    assert repair.returncode == 2 and "stop the server first" in repair.stderr
    assert os.path.getsize(seg) == len(data), "nothing may be truncated under a running server"
    assert server.request("GET", "/workspace")[1]["status"] == 1
