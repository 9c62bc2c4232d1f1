"""GET /events/stream: live, filtered, resumable Server-Sent Events of the workspace's events."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from pdxsrv.client import Client
from tests.conftest import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = Server(str(tmp_path_factory.mktemp("sse") / "ws"))
    yield srv
    srv.stop()


def read_events(response: requests.Response, count: int) -> list[dict]:
    """Read `count` SSE events (id, event, data) from a streaming response."""
    events, current = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith(":"):
            continue
        if not line:
            if current:
                events.append(current)
                current = {}
                if len(events) == count:
                    return events
            continue
        key, _, value = line.partition(": ")
        current[key] = json.loads(value) if key == "data" else value
    return events


def test_a_client_sees_changes_live_and_can_filter_and_resume(server: Server) -> None:
    c = Client(server.url)
    stream = requests.get(server.url + "/events/stream", stream=True, timeout=30)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    created = []
    threading.Thread(target=lambda: created.extend(
        c.create_dataset(f"d{i}", "classification")["did"] for i in range(3))).start()
    events = read_events(stream, 3)
    stream.close()
    assert [e["event"] for e in events] == ["dataset.created"] * 3
    assert [e["data"]["data"]["id"] for e in events] == ["D0001", "D0002", "D0003"]
    assert [int(e["id"]) for e in events] == [e["data"]["seq"] for e in events]

    c.set_attributes("dataset", "D0002", {"name": "renamed"})
    c.create_project("p", "classification")
    first = int(events[0]["id"])
    resumed = requests.get(server.url + "/events/stream", headers={"Last-Event-ID": str(first)}, stream=True,
                           timeout=30)
    later = read_events(resumed, 4)
    resumed.close()
    assert [e["event"] for e in later] == ["dataset.created", "dataset.created", "dataset.attributes_set",
                                           "project.created"]
    only = requests.get(server.url + "/events/stream", params={"did": "D0002", "since": 0}, stream=True, timeout=30)
    about = read_events(only, 2)
    only.close()
    assert [(e["event"], e["data"]["data"]["id"]) for e in about] == [("dataset.created", "D0002"),
                                                                     ("dataset.attributes_set", "D0002")]
    typed = requests.get(server.url + "/events/stream", params={"type": "project.*", "since": 0}, stream=True,
                         timeout=30)
    assert [e["event"] for e in read_events(typed, 1)] == ["project.created"]
    typed.close()
    bad = requests.get(server.url + "/events/stream", headers={"Last-Event-ID": "yesterday"}, timeout=30)
    assert bad.json()["code"] == "invalid_argument"
