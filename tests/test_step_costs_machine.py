"""A machine measures its own step costs (`pdxsrv step-costs measure`), and estimates and CPU recipes use them.

The reference table was measured on one machine; others ran a model's steps 0.6 to 3.2 times as long
(bench/RESULTS.md), so an estimate from it could be off by that much, and a recipe fitted to half an
hour could take one and a half. One measurement on a machine varies by up to 1.6x from the next, so every
finished CPU training run adds its own figures too: runs estimate runs of about their size (the median of
those), runs of two sizes the sizes between them (a line), and the measurements the rest.
"""

from __future__ import annotations

import json
import os

import pytest

from pdxsrv import machine_costs, system
from pdxsrv.client import Client
from pdxsrv.domain.enums import TaskStatus
from pdxsrv.domain.recipes import Facts, recommend
from pdxsrv.domain.step_costs import COSTS, STARTUP, Table, estimate, evaluated_images, learned
from tests.conftest import pdxsrv
from tests.training_support import SHORT, project_on_generated_data, supervised_server, wait_trained

PARAMS = {"model": "ResNet18", "image_shape": [64, 64], "batch_size": 8, "num_epochs": 10, "save_interval_epochs": 10}


def test_an_estimate_uses_this_machines_costs_where_it_has_them_and_says_which() -> None:
    step, image = COSTS[("classification", "ResNet18")]
    here = Table({("classification", "ResNet18"): (2 * step, 2 * image),
                  ("detection", "YOLOv3/MobileNetV1"): (1.0, 0.1)}, 2, "this machine (a test)")
    reference = estimate("classification", PARAMS, 80, 20, 2, False)
    mine = estimate("classification", PARAMS, 80, 20, 2, False, here)
    assert reference["measured_on"] == "reference" and "pdxsrv step-costs measure" in reference["basis"]
    assert mine["measured_on"] == "this_machine" and "this machine (a test)" in mine["basis"]
    assert abs((mine["seconds"] - STARTUP) - 2 * (reference["seconds"] - STARTUP)) <= 2
    other = estimate("classification", {**PARAMS, "model": "MobileNetV2"}, 80, 20, 2, False, here)
    assert other["measured_on"] == "reference"  # a model this machine did not measure
    darknet = {**PARAMS, "model": "YOLOv3", "backbone": "DarkNet53", "image_shape": [128, 128]}
    assert estimate("detection", darknet, 80, 20, 2, False, here)["measured_on"] == "reference"  # not a sibling's


def test_a_slower_machine_gets_a_recipe_that_fits_the_same_budget() -> None:
    step, image = COSTS[("classification", "ResNet18")]
    slow = Table({("classification", "ResNet18"): (2 * step, 2 * image)}, 2, "this machine (a test)")
    facts = Facts([], [], (2, 8000), 1000, 200, 3, 64.0)
    as_reference = recommend("classification", "ResNet18", facts, lambda _: False)
    here = recommend("classification", "ResNet18", Facts(**{**facts.__dict__, "costs": slow}), lambda _: False)
    assert here["estimate"]["measured_on"] == "this_machine"
    assert here["train"]["num_epochs"] < as_reference["train"]["num_epochs"]
    assert as_reference["estimate"]["seconds"] <= 30 * 60 and here["estimate"]["seconds"] <= 30 * 60


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(the step-cost file, what `measure` printed) for ShuffleNetV2, measured on this machine."""
    path = str(tmp_path_factory.mktemp("costs") / "step_costs.json")
    done = pdxsrv("step-costs", "measure", "--type", "classification", "--model", "ShuffleNetV2",
                  "--step-costs", path, timeout=300)
    assert done.returncode == 0, done.stderr
    return path, done.stdout


def test_measure_records_each_model_for_this_machine(measured: tuple[str, str]) -> None:
    path, printed = measured
    assert "[1/1] classification ShuffleNetV2:" in printed and "s a step of 8 images" in printed
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["cpu"] == system.cpu_model() and doc["cores"] == system.cpu_capacity()[0]
    entry = doc["costs"]["classification ShuffleNetV2"]
    assert entry["step"] > 0 and entry["image"] > 0
    shown = pdxsrv("step-costs", "show", "--step-costs", path)
    assert shown.returncode == 0 and "used by estimates" in shown.stdout and "ShuffleNetV2" in shown.stdout


def test_a_wrong_model_name_measures_nothing(tmp_path) -> None:
    path = str(tmp_path / "step_costs.json")
    done = pdxsrv("step-costs", "measure", "--type", "classification", "--model", "ResNet19", "--step-costs", path)
    assert done.returncode == 2 and "ResNet19 is not one of" in done.stderr and "ResNet18" in done.stderr
    assert not os.path.exists(path)


def test_the_server_estimates_from_this_machines_file_until_it_is_another_machines(
        measured: tuple[str, str], tmp_path) -> None:
    path, _ = measured
    with supervised_server(tmp_path, "--step-costs", path) as srv:
        c = Client(srv.url)
        pid = project_on_generated_data(c, str(tmp_path), "classification", images=24)
        mine = c.recommended_params(pid, model_type="ShuffleNetV2")["estimate"]
        assert mine["measured_on"] == "this_machine" and system.cpu_model() in mine["basis"], mine
        assert c.recommended_params(pid, model_type="ResNet18")["estimate"]["measured_on"] == "reference"
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        with open(path, "w", encoding="utf-8") as f:  # as if the home directory came from another machine
            json.dump({**doc, "cpu": "Another CPU"}, f)
        copied = c.recommended_params(pid, model_type="ShuffleNetV2")["estimate"]
        assert copied["measured_on"] == "reference", copied
    shown = pdxsrv("step-costs", "show", "--step-costs", path)
    assert "NOT USED: measured on Another CPU" in shown.stdout


@pytest.mark.parametrize("kind, params", [
    ("classification", PARAMS),
    ("detection", {"model": "YOLOv3", "backbone": "MobileNetV3", "image_shape": [96, 96], "batch_size": 4,
                   "num_epochs": 12, "save_interval_epochs": 4}),  # a share of its step does not scale
    ("instance_segmentation", {"model": "MaskRCNN", "backbone": "ResNet18", "image_shape": [64, 64],
                               "batch_size": 2, "num_epochs": 3, "save_interval_epochs": 1}),  # pixels^0.25
])
def test_a_run_teaches_the_estimate_of_runs_of_its_size_only(kind: str, params: dict) -> None:
    step_seconds, image_seconds, train, val = 1.7, 0.09, 70, 20  # what a run took, on 1 of this table's 2 cores
    run = learned(kind, params["model"], params["image_shape"], params["batch_size"], 2.0, step_seconds,
                  image_seconds)
    name = f"{params['model']}/{params['backbone']}" if "backbone" in params else params["model"]
    here = Table({}, 2, "this machine", {(kind, name): (run,)})
    again = estimate(kind, params, train, val, 1, False, here)
    steps = params["num_epochs"] * (train // params["batch_size"])
    evaluations = params["num_epochs"] // params["save_interval_epochs"]
    took = STARTUP + steps * step_seconds + evaluations * evaluated_images(kind, train, val) * image_seconds
    assert again["measured_on"] == "this_machine" and "1 training run of" in again["basis"]
    assert abs(again["seconds"] - took) <= 1, (again, took)
    larger = {**params, "image_shape": [side * 3 for side in params["image_shape"]], "batch_size": 8}
    assert estimate(kind, larger, train, val, 1, False, here)["measured_on"] == "reference"  # not of its size


def test_runs_at_two_sizes_estimate_the_sizes_between_them_by_a_line() -> None:
    def step_seconds(work: float) -> float:  # this machine: 0.3 s a step whatever its size, 0.8 s per reference step
        return 0.3 + 0.8 * work

    sizes = [([32, 32], 4), ([64, 64], 26)]  # a step 0.125 and 3.25 times a reference one
    runs = tuple(learned("classification", "ResNet18", shape, batch, 1.0,
                         step_seconds(batch / 8 * (shape[0] / 64) ** 2), 0.01) for shape, batch in sizes)
    busy = (runs[0][0], 5 * runs[0][1], runs[0][2])  # a run slowed by another job beside it: one of the size's three
    here = Table({}, 2, "this machine", {("classification", "ResNet18"): (runs[0], busy, runs[0], runs[1])})
    between = estimate("classification", PARAMS, 80, 20, 2, False, here)  # 64 px x 8: a reference step
    assert between["measured_on"] == "this_machine" and "a line through 4 training runs" in between["basis"]
    assert between["seconds"] == round(STARTUP + 10 * (80 // 8) * step_seconds(1.0)
                                       + evaluated_images("classification", 80, 20) * 0.01)
    far = {**PARAMS, "image_shape": [160, 160], "batch_size": 26}  # 20 times a reference step: beyond them
    assert estimate("classification", far, 400, 20, 2, False, here)["measured_on"] == "reference"
    faster_when_larger = (runs[0], (runs[1][0], 0.01, runs[1][2]))  # no cost per unit of work: not a line to trust
    noisy = Table({}, 2, "this machine", {("classification", "ResNet18"): faster_when_larger})
    assert estimate("classification", PARAMS, 80, 20, 2, False, noisy)["measured_on"] == "reference"


def test_the_measurements_give_the_costs_and_the_runs_are_kept_beside_them(tmp_path) -> None:
    path = str(tmp_path / "step_costs.json")
    with open(path, "w", encoding="utf-8") as f:  # written before figures were kept: one measurement
        json.dump({"format": 1, "cpu": system.cpu_model(), "cores": system.cpu_capacity()[0], "costs": {
            "classification ResNet18": {"step": 1.0, "image": 0.01, "busy": 2.0, "measured": "2026-12-07T10:00:00Z",
                                        "paddle": "2.6.2"}}}, f)
    machine_costs.record(path, "classification", "ResNet18", 3.0, 0.03, "measure", "2.6.2", busy=1.0)
    for number, step in enumerate([1.4, 9.0, 1.6, 1.5], 1):  # one run beside another job read slow
        entry = machine_costs.record(path, "classification", "ResNet18", step, 0.02, f"run T000{number}", "2.6.2",
                                     work=3.25)
    assert [x["from"] for x in entry["samples"]] == ["measure"] * 2 + [f"run T000{n}" for n in range(1, 5)]
    assert entry["step"] == 2.0  # the measurements' median
    table = machine_costs.load(path)
    assert table.costs[("classification", "ResNet18")] == (2.0, 0.02)
    assert [run[1] for run in table.runs[("classification", "ResNet18")]] == [1.4, 9.0, 1.6, 1.5]
    recipe = {**PARAMS, "batch_size": 26}  # 3.25 times a reference step's work: the runs' median, 1.55
    assert estimate("classification", recipe, 210, 60, table.cores, False, table)["seconds"] == round(
        STARTUP + 10 * (210 // 26) * 1.55 * 3.25 + 1 * evaluated_images("classification", 210, 60) * 0.02)
    for number in range(5, 12):
        entry = machine_costs.record(path, "classification", "ResNet18", 1.5, 0.02, f"run T00{number:02}", "2.6.2",
                                     work=3.25)
    runs = [x["from"] for x in entry["samples"] if x["from"].startswith("run")]
    assert len(runs) == machine_costs.SAMPLES and runs[0] == "run T0002"  # the latest runs, and the measurements
    assert [x["from"] for x in entry["samples"][:2]] == ["measure", "measure"] and entry["step"] == 2.0
    shown = pdxsrv("step-costs", "show", "--step-costs", path)
    assert "2 measurements (1 % busy before the last), 10 training runs (T0002 at 3.25x, T0003 at 3.25x" in \
        shown.stdout, shown.stdout


def test_finished_cpu_runs_teach_the_estimate_of_runs_of_their_size(tmp_path) -> None:
    path = str(tmp_path / "step_costs.json")
    with supervised_server(tmp_path, "--step-costs", path) as srv:
        c = Client(srv.url)
        pid = project_on_generated_data(c, str(tmp_path), "classification", images=24)
        recommended = c.recommended_params(pid, model_type="ShuffleNetV2")
        assert recommended["estimate"]["measured_on"] == "reference" and not os.path.exists(path)
        small = c.create_task(pid, {**SHORT, "model": "ShuffleNetV2", "num_epochs": 3})["tid"]  # 32 px, batch 4
        c.train(small)
        assert wait_trained(c, small)["task_status"] == TaskStatus.XTRAINDONE
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)["costs"]["classification ShuffleNetV2"]
        assert [x["from"] for x in entry["samples"]] == [f"run {small}"] and entry["step"] > 0 and entry["image"] > 0
        assert c.recommended_params(pid, model_type="ShuffleNetV2")["estimate"]["measured_on"] == "reference"
        like = c.create_task(pid, {**recommended["train"], "num_epochs": 3})["tid"]  # the recommendation's size
        c.train(like)
        assert wait_trained(c, like)["task_status"] == TaskStatus.XTRAINDONE
        after = c.recommended_params(pid, model_type="ShuffleNetV2")["estimate"]
        assert after["measured_on"] == "this_machine" and "from 1 training run of ShuffleNetV2" in after["basis"]
        assert "2 training runs" in after["basis"], after  # of this machine's file
        assert c.recommended_params(pid, model_type="ResNet18")["estimate"]["measured_on"] == "reference"
