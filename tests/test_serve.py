"""`pdxsrv serve`: one server per workspace, the error shape, clean shutdown with a snapshot."""

from __future__ import annotations

import asyncio
import os
import signal

from eventlog import SnapshotStore
from pdxsrv.domain import commands as c
from pdxsrv.store import Store, snapshots_dir
from tests.conftest import pdxsrv


def test_get_workspace_returns_its_directory(tmp_path, serve) -> None:
    server = serve(str(tmp_path / "new" / "ws"))
    status, body = server.request("GET", "/workspace")
    assert status == 200 and body == {"status": 1, "dirname": os.path.realpath(tmp_path / "new" / "ws")}
    status, body = server.request("GET", "/workspace", {"unused": 1})  # a JSON body on GET is accepted
    assert status == 200 and body["status"] == 1


def test_unknown_routes_wrong_methods_and_bad_json_get_the_one_error_shape(tmp_path, serve) -> None:
    server = serve()
    status, body = server.request("GET", "/no/such/route")
    assert status == 404 and body["status"] == -1 and body["code"] == "not_found" and "/no/such/route" in body["message"]
    status, body = server.request("DELETE", "/workspace")
    assert status == 405 and body["status"] == -1 and "DELETE" in body["message"]
    status, body = server.request("GET", "/workspace", raw=b"{oops")
    assert status == 200 and body["status"] == -1 and body["code"] == "bad_request" and "JSON" in body["message"]


def test_a_second_serve_on_the_same_workspace_refuses_to_start(tmp_path, serve) -> None:
    ws = str(tmp_path / "ws")
    first = serve(ws)
    second = pdxsrv("serve", "--workspace", ws, "--port", "0", timeout=60)
    assert second.returncode != 0
    assert "already served by process" in second.stderr and str(first.proc.pid) in second.stderr
    assert first.request("GET", "/workspace")[1]["status"] == 1


def test_sigterm_snapshots_and_a_restart_answers_the_same(tmp_path, serve) -> None:
    ws = str(tmp_path / "ws")

    async def populate() -> None:
        store = Store(ws)
        for i in range(5):
            await store.execute(c.create_dataset, f"d{i}", "", "detection")
        await store.log.aclose()

    asyncio.run(populate())
    assert SnapshotStore(snapshots_dir(ws)).seqs() == []
    server = serve(ws)
    first = server.request("GET", "/workspace")
    assert server.stop(signal.SIGTERM) == 0
    assert SnapshotStore(snapshots_dir(ws)).seqs() == [5]
    again = serve(ws)
    assert again.request("GET", "/workspace") == first
    assert again.stop(signal.SIGINT) == 0


def test_a_workspace_path_that_is_a_file_is_refused(tmp_path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    result = pdxsrv("serve", "--workspace", str(path), "--port", "0")
    assert result.returncode != 0 and "not a directory" in result.stderr
    assert path.read_text() == "x", "the original deleted a file standing where the workspace should be"
