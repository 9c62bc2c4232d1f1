"""The web console in a real browser: a whole classification project, clicked through as a person would; stop and
resume from a chosen epoch.

A real server with its supervisor trains on a tiny generated dataset; every step asserts what the page shows.
Screenshots of each page (1280x800) go to tests/artifacts/ ($PDXSRV_ARTIFACTS); the live training view is also
copied to docs/img/live-training.png for the README when that is missing or PDXSRV_UPDATE_DOCS_IMG=1.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from pdxsrv.client import Client
from pdxsrv.datasets.synthetic import make
from tests.browser_support import assert_no_console_errors, browser, browsing, new_page, screenshot  # noqa: F401
from tests.conftest import Server
from tests.training_support import project_on

pytestmark = pytest.mark.slow
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img" / "live-training.png"
WAIT = 240_000  # ms: generous for a loaded 2-core machine; the tests wait for what the page shows, never on time


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A supervised server whose allowed directory holds a generated 3-class dataset."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("console")))
    make("classification", str(base / "shapes"), images=24, size=48, seed=3)
    server = Server(str(base / "ws"), "--allow-path", str(base), supervise=True)
    server.base = base
    try:
        yield server
    finally:
        server.stop()
        server.shutdown_supervisor()


def status_of(page: Any, selector: str = "h1 .badge") -> str:
    return page.locator(selector).first.get_attribute("data-status") or ""


def test_a_classification_project_through_the_console(browser: Any, console: Server) -> None:
    page = new_page(browser)
    try:
        whole_project(page, console)
    except BaseException:
        screenshot(page, "failed-classification")
        raise
    finally:
        page.context.close()


def redraw(page: Any, selector: str, client: Client, tid: str) -> None:
    """Make the page redraw the element at `selector` with an event about task `tid`, and wait until it has."""
    page.locator(selector).evaluate("el => { el.dataset.before = '1'; }")
    client.set_attributes("task", tid, {"desc": "redrawn while someone types"})
    page.wait_for_selector(f"{selector}:not([data-before])", timeout=WAIT)


def whole_project(page: Any, console: Server) -> None:
    base = console.base
    page.goto(f"{console.url}/")
    page.wait_for_selector(".view[data-view=overview][data-ready]")
    assert page.locator("#live").inner_text() in ("live", "connecting")

    # a dataset: created, then imported from a folder chosen in the server's allowed directories
    page.click("nav a[data-view=datasets]")
    page.fill("#create-dataset input[name=name]", "shapes")
    page.select_option("#create-dataset select[name=dataset_type]", "classification")
    page.click("#create-dataset button[type=submit]")
    page.wait_for_url(re.compile(r"#/datasets/D0001$"))
    page.locator(f"#browser .entry[data-path='{base}']").click()
    page.wait_for_selector(f"#browse-path:text-is('{base}')")
    page.locator("#browser .entry[data-name='shapes']").click()
    page.wait_for_selector(f"#browse-path:text-is('{base / 'shapes'}')")
    assert page.locator("#browser .entry[data-name='circle']").is_visible()
    page.click("#import-here")
    page.wait_for_selector("h1 .badge[data-status=XCOPYDONE]", timeout=WAIT)  # the page follows the import live

    # split with a seed; the counts and the class chart show; the images show with their labels drawn
    page.fill("#split-form input[name=val_split]", "0.25")
    page.fill("#split-form input[name=test_split]", "0.1")
    page.fill("#split-form input[name=seed]", "7")
    page.click("#split-form button[type=submit]")
    page.wait_for_selector("h1 .badge[data-status=XSPLITED]")
    counts = page.locator("#split-counts").inner_text()
    assert "train images" in counts and "val images" in counts
    assert page.locator(".bars-row").count() == 3
    page.wait_for_selector("#gallery figure.thumb[data-loaded]")
    assert page.locator("#gallery figure.thumb").count() == 12  # one page of thumbnails
    assert set(page.locator("#gallery figcaption").all_inner_texts()) <= {"circle", "square", "triangle"}
    page.select_option("select[name=class]", "square")
    page.wait_for_selector("#gallery figure.thumb[data-loaded]")
    assert set(page.locator("#gallery figcaption").all_inner_texts()) == {"square"}
    screenshot(page, "dataset")

    # a project on it, and a task from the form of recommended parameters
    page.click("#new-project")
    page.wait_for_url(re.compile(r"#/tasks/P0001$"))
    page.wait_for_selector("#task-form")
    assert re.search(r"\d", page.locator("#estimate-time").inner_text())  # the estimated training time shows
    assert page.locator("#recipe").inner_text() in ("from_scratch", "fine_tune")
    assert page.locator("#task-form select[name=model]").input_value() == "ResNet18"
    page.select_option("#task-form select[name=model]", "MobileNetV3_small")  # that model's recommended values
    page.wait_for_selector("#task-form[data-model=MobileNetV3_small]")
    page.fill("#task-form input[name=num_epochs]", "2")
    page.fill("#task-form input[name=batch_size]", "4")
    page.fill("#task-form input[name=save_interval_epochs]", "1")
    page.fill("#task-form input[name=image_shape]", "32, 32")
    page.fill("#task-form input[name=desc]", "tiny run")
    screenshot(page, "project-new-task")
    page.click("#create-task")

    # the live training view: the curves fill from /events/stream while it trains
    page.wait_for_url(re.compile(r"#/task/T0001$"))
    page.wait_for_selector("#start")
    assert page.locator("#loss-chart").get_attribute("data-points") == "0"
    assert page.locator("#params").inner_text().count("num_epochs") == 1
    page.click("#start")
    page.wait_for_selector("#loss-chart[data-live]", timeout=WAIT)  # a point arrived while the task was training
    page.wait_for_selector("h1 .badge[data-status=XTRAINDONE]", timeout=WAIT)
    page.wait_for_selector("#loss-chart:not([data-points='0']):not([data-points='1'])")  # (no eval: the page's CSP)
    page.wait_for_selector("#eval-chart[data-points='2']")
    page.wait_for_selector("#train-progress:has-text('Train Complete')")
    assert "epoch 2/2" in page.locator("#train-progress").inner_text()
    assert page.locator("#fact-best").is_visible()
    shot = screenshot(page, "live-training")
    if os.environ.get("PDXSRV_UPDATE_DOCS_IMG") or not DOCS_IMG.exists():  # the README's picture, on demand
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG)

    # results: evaluation with its confusion matrix and per-class table
    page.click("#actions a:text('Results')")
    page.wait_for_url(re.compile(r"#/results/T0001$"))
    page.click("#evaluate")
    page.wait_for_selector("#confusion table.heatmap", timeout=WAIT)
    assert page.locator("#confusion table.heatmap").get_attribute("data-size") == "3"
    assert page.locator("#per-class tr[data-class=triangle]").is_visible()
    assert "Acc1" in page.locator("#eval-metrics").inner_text()
    screenshot(page, "results-evaluation")

    # predict an image dropped on the page: the result image shows
    image = sorted((base / "shapes" / "circle").iterdir())[0]
    transfer = page.evaluate_handle(
        """([b64, name]) => {
            const bin = atob(b64), bytes = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: "image/jpeg" }));
            return dt;
        }""", [base64.b64encode(image.read_bytes()).decode(), image.name])
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#predict-image[src^='data:image/']", timeout=WAIT)
    assert page.locator("#predict-summary").inner_text().split()[0] in ("circle", "square", "triangle")

    # what is typed into the cards' forms outlives a redraw (an event about the task redraws them)
    page.select_option("#export-type", "onnx")
    page.fill("#export-dir", str(base / "exports" / "typed"))
    page.fill("input[name=pretrained-name]", "typed name")
    redraw(page, "#export-dir", Client(console.url), "T0001")
    assert page.locator("#export-type").input_value() == "onnx"
    assert page.locator("#export-dir").input_value() == str(base / "exports" / "typed")
    assert page.locator("input[name=pretrained-name]").input_value() == "typed name"
    page.select_option("#export-type", "infer")  # another kind suggests its own folder again
    assert page.locator("#export-dir").input_value().endswith("/export/infer")

    # a refusal shows in the one error banner, and the banner can be dismissed
    page.fill("#export-dir", "/proc/pdxsrv-not-allowed")
    page.click("#export-start")
    page.wait_for_selector("#banner:visible")
    assert "/proc/pdxsrv-not-allowed" in page.locator("#banner-text").inner_text()
    page.click("#banner-close")
    assert page.locator("#banner").is_hidden()

    # export, the files listed, and the whole export downloaded as one zip
    page.select_option("#export-type", "infer")
    page.fill("#export-dir", str(base / "exports" / "shapes-infer"))
    page.click("#export-start")
    page.wait_for_selector("#export-download", timeout=WAIT)
    page.wait_for_selector("#export-files td:text-is('deploy.yml')")
    with page.expect_download() as download:
        page.click("#export-download")
    saved = download.value.path()
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(saved) as archive:
        assert "deploy.yml" in archive.namelist()
    page.locator("#export").scroll_into_view_if_needed()
    screenshot(page, "results-predict-export")

    # the other pages, as links
    for view, ready in (("overview", "#/overview"), ("compare", "#/compare/T0001"), ("audit", "#/audit/T0001"),
                        ("results-index", "#/results"), ("datasets", "#/datasets"), ("tasks", "#/tasks")):
        page.goto(f"{console.url}/{ready}")
        page.wait_for_selector(".view[data-ready]")
        screenshot(page, view)
        if view == "overview":
            assert page.locator("tr[data-id=T0001] .badge").first.get_attribute("data-status") == "XEXPORTED"
            assert "CPU cores" in page.locator("#machine").inner_text()
            assert " GB" in page.locator("#memory-use").inner_text()
        if view == "compare":
            page.wait_for_selector("#compare-loss[data-points]")
            assert int(page.locator("#compare-loss").get_attribute("data-points")) >= 2
            assert page.locator("#compare-params").is_visible()
        if view == "audit":
            rows = page.locator("#audit-table tbody tr")
            assert rows.count() > 5
            seqs = [int(s) for s in page.locator("#audit-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.seq)")]
            assert seqs == sorted(seqs, reverse=True)  # newest first
            assert "task.created" in page.locator("#audit-table").inner_text()
            page.goto(f"{console.url}/#/audit")  # everything: more than a page
            page.wait_for_selector("#audit-older")
            first = page.locator("#audit-table tbody tr").count()
            page.click("#audit-older")
            page.wait_for_selector(f"#audit-table tbody tr:nth-child({first + 1})")
            seqs = [int(s) for s in page.locator("#audit-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.seq)")]
            assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    assert_no_console_errors(page)


def test_stop_and_resume_from_a_chosen_epoch(browser: Any, tmp_path: Path) -> None:
    base = Path(os.path.realpath(tmp_path))
    source = base / "shapes"
    make("classification", str(source), images=24, size=32, seed=9)
    server = Server(str(base / "ws"), "--allow-path", str(base), supervise=True)
    with browsing(browser, server, "resume") as page:
        c = Client(server.url)
        pid = project_on(c, str(source), "classification", 0.25, 0.0)
        tid = c.create_task(pid, {"model": "MobileNetV3_small", "num_epochs": 8, "save_interval_epochs": 1,
                                  "batch_size": 4, "image_shape": [32, 32]})["tid"]
        page.goto(f"{server.url}/#/task/{tid}")
        page.click("#start")
        page.wait_for_selector("#eval-chart[data-points]", timeout=WAIT)  # epoch 1 is saved and evaluated
        page.click("#stop")
        page.wait_for_selector("h1 .badge[data-status=XTRAINEXIT]", timeout=WAIT)
        saved = int(page.locator("input[name=resume-epoch]").input_value())
        assert 1 <= saved < 8
        before = int(page.locator("#loss-chart").get_attribute("data-points"))
        page.fill("input[name=resume-epoch]", "1")  # a chosen epoch, not necessarily the last saved one
        # an event about the task while the person chooses re-renders the actions: the choice stays
        redraw(page, "input[name=resume-epoch]", c, tid)
        assert page.locator("input[name=resume-epoch]").input_value() == "1"
        page.click("#resume")
        page.wait_for_selector("h1 .badge[data-status=XTRAINDONE]", timeout=WAIT)
        page.wait_for_selector("#train-progress:has-text('epoch 8/8')")
        assert int(page.locator("#loss-chart").get_attribute("data-points")) >= before  # the curve went on
        page.click("[data-log=reports]")
        assert "training resumed from epoch 1" in page.locator("#log-tail").inner_text()
        screenshot(page, "resumed-training")
        assert_no_console_errors(page)
