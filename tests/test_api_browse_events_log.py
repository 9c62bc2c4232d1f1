"""GET /browse (a confined directory listing) and GET /events/log (the event log, newest first, paginated)."""

from __future__ import annotations

import os

import pytest

from pdxsrv.api.browse import MAX_ENTRIES
from pdxsrv.client import Client


@pytest.fixture
def tree(tmp_path):
    """An allowed root with directories, files, dot-entries and links in and out of the roots."""
    root = tmp_path / "allowed"
    (root / "b_dir" / "deep").mkdir(parents=True)
    (root / "a_dir").mkdir()
    (root / "z.txt").write_text("zz")
    (root / "a.jpg").write_bytes(b"\xff" * 10)
    (root / ".hidden").write_text("h")
    (root / ".hidden_dir").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s")
    os.symlink(tmp_path / "outside", root / "link_out")
    os.symlink(tmp_path / "outside" / "secret.txt", root / "file_link_out")
    os.symlink(root / "b_dir", root / "link_in")
    return root


def test_browse_without_a_path_lists_the_roots(tmp_path, serve, tree) -> None:
    server = serve(None, "--allow-path", str(tree))
    body = server.request("GET", "/browse")[1]
    assert body["status"] == 1 and body["path"] is None and body["parent"] is None
    assert [e["path"] for e in body["entries"]] == [os.path.realpath(tmp_path / "ws"), str(tree)]
    assert all(e["is_dir"] for e in body["entries"])


def test_browse_lists_directories_first_without_dot_entries_or_links_out(tmp_path, serve, tree) -> None:
    server = serve(None, "--allow-path", str(tree))
    body = Client(server.url).call("GET", "/browse", path=str(tree / "b_dir" / ".."))
    assert body["path"] == str(tree) and body["parent"] is None and body["truncated"] is False
    names = [(e["name"], e["is_dir"]) for e in body["entries"]]
    assert names == [("a_dir", True), ("b_dir", True), ("link_in", True), ("a.jpg", False), ("z.txt", False)]
    files = {e["name"]: e for e in body["entries"]}
    assert files["z.txt"]["size"] == 2 and files["a.jpg"]["path"] == str(tree / "a.jpg")
    assert isinstance(files["z.txt"]["mtime"], float) and "size" not in files["a_dir"]
    inner = Client(server.url).call("GET", "/browse", path=str(tree / "link_in"))
    assert inner["path"] == str(tree / "b_dir") and inner["parent"] == str(tree)
    assert [e["name"] for e in inner["entries"]] == ["deep"]


def test_browse_refuses_outside_the_roots_and_non_directories(tmp_path, serve, tree) -> None:
    server = serve(None, "--allow-path", str(tree))
    for path in (str(tree / "link_out"), "/etc", str(tmp_path)):
        body = server.request("GET", "/browse?path=" + path)[1]
        assert body["status"] == -1 and body["code"] == "path_not_allowed", path
    for path, why in ((tree / "z.txt", "it is a file"), (tree / "missing", "does not exist")):
        body = server.request("GET", "/browse", {"path": str(path)})[1]
        assert body["code"] == "not_found" and str(path) in body["message"] and why in body["message"]


def test_browse_cuts_long_listings(tmp_path, serve) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for i in range(MAX_ENTRIES + 5):
        (many / f"f{i:05d}").touch()
    server = serve(None, "--allow-path", str(many))
    body = server.request("GET", "/browse", {"path": str(many)})[1]
    assert body["truncated"] is True and len(body["entries"]) == MAX_ENTRIES
    assert body["entries"][0]["name"] == "f00000"


def test_events_log_pages_newest_first_and_filters(tmp_path, serve) -> None:
    server = serve()
    c = Client(server.url)
    dids = [c.create_dataset(f"d{i}", "classification")["did"] for i in range(5)]
    pid = c.create_project("p", "classification")["pid"]
    c.set_attributes("project", pid, {"did": dids[2]})
    c.delete_dataset(dids[0])

    first = c.call("GET", "/events/log", limit=3)
    seqs = [e["seq"] for e in first["events"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 3 and first["next_before"] == seqs[-1]
    assert set(first["events"][0]) == {"seq", "ts", "type", "v", "data"}
    assert first["events"][0]["type"] == "dataset.deleted" and first["events"][0]["data"]["id"] == dids[0]
    pages, before = [seqs], first["next_before"]
    while before is not None:
        page = c.call("GET", "/events/log", limit=3, before=before)
        pages.append([e["seq"] for e in page["events"]])
        before = page["next_before"]
    everything = [s for p in pages for s in p]
    assert everything == list(range(everything[0], 0, -1)) and len(pages) == 3

    about = c.call("GET", "/events/log", id=dids[0])["events"]
    assert [e["type"] for e in about] == ["dataset.deleted", "dataset.created"]
    assert c.call("GET", "/events/log", type=["project.*"])["events"][-1]["type"] == "project.created"
    assert c.call("GET", "/events/log", type="dataset.created", limit=1000)["next_before"] is None
    assert len(c.call("GET", "/events/log", type="dataset.created")["events"]) == 5
    assert c.call("GET", "/events/log", id="D9999") == {"status": 1, "events": [], "next_before": None}


def test_events_log_checks_its_arguments(tmp_path, serve) -> None:
    server = serve()
    for query in ("limit=0", "limit=1001", "before=0", "before=x"):
        body = server.request("GET", "/events/log?" + query)[1]
        assert body["status"] == -1 and body["code"] == "invalid_argument", query
    assert server.request("GET", "/events/log")[1] == {"status": 1, "events": [], "next_before": None}


def test_events_log_reads_across_segments(tmp_path) -> None:
    from eventlog import Event, EventLog
    from eventlog.reader import read_newest_first

    with EventLog(str(tmp_path / "log"), segment_bytes=300) as log:
        for i in range(40):
            log.append_sync([Event("thing", {"i": i, "blob": b"\x00\x01"})])
        assert len(os.listdir(tmp_path / "log")) > 3
        got = [r.seq for r in read_newest_first(log.directory, 31, log.durable_seq)]
        assert got == list(range(30, 0, -1))
        assert [r.seq for r in read_newest_first(log.directory, 10**9, 35)][:2] == [35, 34]


def test_events_are_sent_as_json_bytes_as_base64() -> None:
    import json

    from pdxsrv.api.events_stream import json_value

    assert json.dumps({"blob": b"\x00\x01"}, default=json_value) == '{"blob": "AAE="}'
