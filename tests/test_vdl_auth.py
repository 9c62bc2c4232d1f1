"""The token from $PDXSRV_TOKEN or --token-file (never on the command line), and VisualDL reachable only through
pdxsrv, under that token."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from urllib.parse import urljoin

import psutil
import pytest
import requests

from pdxsrv.client import Client
from tests.conftest import Server, pdxsrv

TOKEN = "s3cret-token-4711"


def _status(server: Server, path: str, token: str | None) -> int:
    request = urllib.request.Request(server.url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_token_comes_from_the_environment_and_is_not_in_ps(tmp_path, monkeypatch, serve) -> None:
    monkeypatch.setenv("PDXSRV_TOKEN", TOKEN)
    server = serve()
    assert _status(server, "/workspace", None) == 401
    assert _status(server, "/workspace", "wrong") == 401
    assert _status(server, "/workspace", TOKEN) == 200
    assert not any(TOKEN in arg for arg in psutil.Process(server.proc.pid).cmdline())


def test_the_token_comes_from_a_private_token_file(tmp_path, monkeypatch, serve) -> None:
    monkeypatch.delenv("PDXSRV_TOKEN", raising=False)
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n")
    path.chmod(0o644)
    refused = pdxsrv("serve", "--workspace", str(tmp_path / "other"), "--port", "0", "--no-supervisor",
                     "--token-file", str(path), timeout=60)
    assert refused.returncode != 0 and str(path) in refused.stderr and "chmod 600" in refused.stderr
    path.chmod(0o600)
    server = serve(None, "--token-file", str(path))
    assert _status(server, "/workspace", None) == 401
    assert _status(server, "/workspace", TOKEN) == 200  # stripped of the whitespace around it
    assert not any(TOKEN in arg for arg in psutil.Process(server.proc.pid).cmdline())


@pytest.fixture
def board(tmp_path, monkeypatch, serve):
    """A server with a token and a task whose training logs hold one scalar; (server, client, tid)."""
    monkeypatch.setenv("PDXSRV_TOKEN", TOKEN)
    server = serve()
    c = Client(server.url, token=TOKEN)
    did = c.create_dataset("d", "classification")["did"]
    pid = c.create_project("p", "classification")["pid"]
    c.set_attributes("project", pid, {"did": did})
    tid = c.create_task(pid, {"model": "MobileNetV3_small"})["tid"]
    from visualdl import LogWriter

    with LogWriter(logdir=os.path.join(server.workspace, "projects", pid, tid, "output", "vdl_log")) as writer:
        for step in range(5):
            writer.add_scalar(tag="train/loss", step=step, value=1.0 / (step + 1))
    return server, c, tid


def test_visualdl_answers_only_through_pdxsrv_and_only_with_the_token(board) -> None:
    server, c, tid = board
    url = c.call("GET", "/project/task/vdl", tid=tid)["url"]
    address, _, query = url.partition("?")
    assert address == f"127.0.0.1:{server.port}/vdl/{tid}/" and query.startswith("vdl_ticket=")
    base = f"http://{address}"
    tags = base + "api/scalar/tags"
    denied = requests.get(tags, timeout=30)
    assert denied.status_code == 401 and denied.json()["code"] == "unauthorized"
    assert requests.get(base + "index", timeout=30).status_code == 401
    assert requests.get(tags, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
    allowed = requests.get(tags, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert allowed.status_code == 200 and "train/loss" in allowed.json()["data"]["tags"][0]

    browser = requests.Session()  # no Authorization header: the ticket, then the cookie it is exchanged for
    page = browser.get(f"http://{url}", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower() and page.url.startswith(base)
    assert "vdl_ticket" not in page.url, "the ticket is dropped from the address once exchanged"
    assert browser.get(tags, timeout=30).status_code == 200
    script = re.search(r'href=["\']?([^"\' >]+\.js)', page.text)  # the page's modules, through the proxy too
    assert script and script.group(1).startswith(f"/vdl/{tid}/"), page.text[:500]
    assert browser.get(urljoin(page.url, script.group(1)), timeout=30).status_code == 200
    forged = requests.get(tags, cookies={"pdxsrv_vdl": "99999999999.0000"}, timeout=30)
    assert forged.status_code == 401

    board = [p for p in psutil.Process(server.proc.pid).children() if "visualdl.server.app" in " ".join(p.cmdline())]
    assert len(board) == 1
    listening = {conn.laddr.ip for conn in board[0].net_connections("inet") if conn.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}, "the board itself listens on loopback only"
