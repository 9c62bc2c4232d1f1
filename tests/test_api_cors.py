"""CORS (--cors-origin), 405's Allow header, the legacy demo page (--legacy-demo) and `pdxsrv`'s help and version."""

from __future__ import annotations

import requests

from pdxsrv.api.routes import ROUTES
from tests.conftest import pdxsrv

ORIGIN = "http://127.0.0.1:9"
OTHER = "http://127.0.0.1:10"
PAGE = '<html><script>var str_srv_url = "http://0.0.0.0:8080";\nget(str_srv_url + "/workspace");</script></html>\n'


def test_preflight_is_answered_on_every_route_before_the_token(tmp_path, serve) -> None:
    server = serve(None, "--cors-origin", ORIGIN, "--cors-origin", OTHER, "--token", "secret")
    for path, _, ops in [*ROUTES, ("/no/such/route", None, {"GET": 0, "POST": 0, "PUT": 0, "DELETE": 0})]:
        response = requests.options(server.url + path, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert response.status_code == 204, path
        h = response.headers
        assert h["Access-Control-Allow-Origin"] == ORIGIN and "Origin" in h["Vary"]
        assert set(h["Access-Control-Allow-Methods"].split(", ")) == {*ops, "OPTIONS"}, path
        assert h["Allow"] == h["Access-Control-Allow-Methods"]
        assert {"content-type", "authorization", "last-event-id"} <= set(
            h["Access-Control-Allow-Headers"].lower().split(", "))
        assert int(h["Access-Control-Max-Age"]) > 0
    assert requests.options(server.url + "/dataset", headers={"Origin": OTHER}).headers[
        "Access-Control-Allow-Origin"] == OTHER


def test_every_answer_carries_the_allowed_origin_errors_included(tmp_path, serve) -> None:
    server = serve(None, "--cors-origin", ORIGIN, "--token", "secret")
    auth = {"Authorization": "Bearer secret", "Origin": ORIGIN}
    answers = {
        "ok": requests.get(server.url + "/workspace", headers=auth),
        "application error": requests.get(server.url + "/dataset", params={"did": "D0042"}, headers=auth),
        "401": requests.get(server.url + "/workspace", headers={"Origin": ORIGIN}),
        "404": requests.get(server.url + "/nope", headers=auth),
        "405": requests.patch(server.url + "/workspace", headers=auth),
        "created": requests.post(server.url + "/dataset", json={"name": "d", "dataset_type": "detection"},
                                 headers=auth),
        "stream error": requests.get(server.url + "/events/stream", params={"since": "x"}, headers=auth),
    }
    for what, response in answers.items():
        assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN, what
        assert "Origin" in response.headers.get("Vary", ""), what
        assert response.json()["status"] in (1, -1), what
    assert answers["401"].status_code == 401 and answers["404"].status_code == 404


def test_other_origins_and_servers_without_the_option_get_no_cors_headers(tmp_path, serve) -> None:
    with_cors = serve(str(tmp_path / "a"), "--cors-origin", ORIGIN)
    without = serve(str(tmp_path / "b"))
    for url, origin in ((with_cors.url, OTHER), (without.url, ORIGIN)):
        for response in (requests.get(url + "/workspace", headers={"Origin": origin}),
                         requests.options(url + "/dataset", headers={"Origin": origin})):
            assert not any(k.lower().startswith("access-control-") for k in response.headers), response.headers
    assert requests.options(without.url + "/dataset").headers["Allow"] == "GET, POST, PUT, DELETE, OPTIONS"


def test_405_answers_carry_allow(tmp_path, serve) -> None:
    server = serve()
    for path, _, ops in ROUTES:
        response = requests.patch(server.url + path)
        assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
        assert set(response.headers["Allow"].split(", ")) == {*ops, "OPTIONS"}, path


def test_cors_origin_must_be_an_origin() -> None:
    result = pdxsrv("serve", "--workspace", "/nonexistent/ws", "--cors-origin", "http://127.0.0.1:9/page")
    assert result.returncode == 2 and "not a web origin" in result.stderr


def test_the_legacy_demo_page_is_served_pointed_at_the_server_it_came_from(tmp_path, serve) -> None:
    page = tmp_path / "demo.html"
    page.write_text(PAGE, encoding="utf-8")
    server = serve(None, "--legacy-demo", str(page), "--token", "secret")  # the page itself needs no token
    response = requests.get(server.url + "/paddlex_restful_demo.html")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert response.text == PAGE.replace("http://0.0.0.0:8080", server.url)
    by_name = requests.get(f"http://localhost:{server.port}/paddlex_restful_demo.html")
    assert f'var str_srv_url = "http://localhost:{server.port}";' in by_name.text
    assert requests.get(server.url + "/workspace").status_code == 401


def test_without_the_option_the_page_is_a_clear_not_found(tmp_path, serve) -> None:
    body = serve().request("GET", "/paddlex_restful_demo.html")[1]
    assert body["status"] == -1 and body["code"] == "not_found" and "--legacy-demo" in body["message"]


def test_an_unreadable_legacy_demo_fails_the_start(tmp_path) -> None:
    result = pdxsrv("serve", "--workspace", str(tmp_path / "ws"), "--port", "0", "--no-supervisor",
                    "--legacy-demo", str(tmp_path / "missing.html"))
    assert result.returncode == 1
    assert "--legacy-demo" in result.stderr and "missing.html" in result.stderr and "cannot read" in result.stderr
    assert not (tmp_path / "ws").exists()


def test_pdxsrv_alone_prints_its_help_and_version_prints_the_version() -> None:
    from importlib.metadata import version

    alone = pdxsrv()
    assert alone.returncode in (0, 2) and "usage: pdxsrv" in alone.stdout and "serve" in alone.stdout
    assert pdxsrv("--version").stdout.strip() == f"pdxsrv {version('pdxsrv')}"
