"""The web console in a real browser: a segmentation task's live view and IoU report; pruning; a server with --token."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from pdxsrv.client import Client
from pdxsrv.datasets.synthetic import make
from tests.browser_support import assert_no_console_errors, browser, browsing, screenshot  # noqa: F401
from tests.conftest import Server
from tests.training_support import project_on, trained_classifier

pytestmark = pytest.mark.slow
WAIT = 240_000  # ms: what the page shows is waited for, never a time


def test_a_segmentation_task_live_and_its_iou_report(browser: Any, tmp_path: Path) -> None:
    base = Path(os.path.realpath(tmp_path))
    source = base / "seg"
    make("segmentation", str(source), images=24, size=64, seed=5)
    server = Server(str(base / "ws"), "--allow-path", str(base), supervise=True)
    with browsing(browser, server, "segmentation") as page:
        c = Client(server.url)
        pid = project_on(c, str(source), "segmentation", 0.25, 0.0)
        tid = c.create_task(pid, {"model": "BiSeNetV2", "num_epochs": 2, "save_interval_epochs": 1, "batch_size": 4,
                                  "image_shape": [64, 64]})["tid"]
        page.goto(f"{server.url}/#/task/{tid}")
        page.wait_for_selector("#start")
        assert page.locator("#loss-chart").get_attribute("data-points") == "0"
        page.click("#start")
        page.wait_for_selector("#loss-chart[data-live]", timeout=WAIT)
        page.wait_for_selector("h1 .badge[data-status=XTRAINDONE]", timeout=WAIT)
        page.wait_for_selector("#eval-chart[data-points='2']")
        assert "miou" in page.locator("#eval-chart").inner_text()
        page.click("[data-log=reports]")
        assert "evaluation of epoch 2" in page.locator("#log-tail").inner_text()
        screenshot(page, "segmentation-live-training")

        page.click("#actions a:text('Results')")
        page.click("#evaluate")
        page.wait_for_selector("#per-class table.per-class", timeout=WAIT)
        headers = page.locator("#per-class th").all_inner_texts()
        assert "iou" in headers
        assert page.locator("#per-class tr[data-class=background]").is_visible()
        assert "Mean_IoU" in page.locator("#eval-metrics").inner_text()
        assert page.locator("#confusion table.heatmap").get_attribute("data-size") == "4"
        screenshot(page, "segmentation-results")
        assert_no_console_errors(page)


def test_with_a_token_nothing_loads_before_it_is_given(browser: Any, tmp_path: Path) -> None:
    server = Server(str(tmp_path / "ws"), "--token", "s3cret-token")
    Client(server.url, token="s3cret-token").create_dataset("guarded flowers", "classification")
    api_calls: list[tuple[str, int]] = []
    with browsing(browser, server, "token") as page:
        page.on("response", lambda r: api_calls.append((r.url, r.status)) if "/web/" not in r.url else None)
        page.goto(f"{server.url}/#/datasets")
        page.wait_for_selector("#token-form")
        screenshot(page, "token")
        assert page.locator("#nav").is_hidden()
        assert "guarded flowers" not in page.content()
        assert not [u for u, s in api_calls if s == 200 and u.rstrip("/") != server.url]  # only 401s

        page.fill("#token", "wrong")
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("#token-wrong")
        assert "guarded flowers" not in page.content()

        page.fill("#token", "s3cret-token")
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("tr[data-id=D0001]")
        assert "guarded flowers" in page.locator("tr[data-id=D0001]").inner_text()
        assert page.locator("#nav").is_visible()
        page.wait_for_selector("#live:text-is('live')")  # the event stream got the token too
        Client(server.url, token="s3cret-token").create_dataset("second", "segmentation")
        page.wait_for_selector("tr[data-id=D0002]")  # refreshed from the stream

        page.reload()  # the tab keeps the token for its session
        page.wait_for_selector("tr[data-id=D0002]")
        assert page.locator("#token-form").count() == 0
        assert_no_console_errors(page, allow=("401",))


def test_pruning_sensitivities_chart_and_a_pruned_retraining(browser: Any, tmp_path: Path) -> None:
    base = Path(os.path.realpath(tmp_path))
    server = Server(str(base / "ws"), "--allow-path", str(base), supervise=True)
    with browsing(browser, server, "pruning") as page:
        c = Client(server.url)
        pid, tid = trained_classifier(c, str(base), seed=4)
        page.goto(f"{server.url}/#/results/{tid}")
        page.click("#prune-start")
        page.wait_for_selector("#sensitivity-chart:not([data-points='0'])", timeout=WAIT)
        assert page.locator("#prune .badge").first.get_attribute("data-status") == "XSPRUNEDONE"
        page.wait_for_selector("#evaluate:enabled")  # the other cards follow the task's status back from the analysis
        page.locator("#prune").scroll_into_view_if_needed()
        screenshot(page, "pruning")
        page.fill("input[name=pruned_flops]", "0.3")
        page.click("#prune-retrain")
        page.wait_for_url(re.compile(r"#/task/T0002$"))
        page.wait_for_selector(f"h1:has-text('prunes {tid}')")
        page.wait_for_selector("h1 .badge[data-status=XTRAINDONE]", timeout=WAIT)
        page.wait_for_selector("#fact-pruning")  # what the pruning removed
        assert_no_console_errors(page)
