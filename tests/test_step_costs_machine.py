"""A machine measures its own step costs (`pdxsrv step-costs measure`), and estimates and CPU recipes use them.

The reference table was measured on one machine; others ran a model's steps 0.6 to 3.2 times as long
(bench/RESULTS.md), so an estimate from it could be off by that much, and a recipe fitted to half an
hour could take one and a half.
"""

from __future__ import annotations

import json
import os

import pytest

from pdxsrv import system
from pdxsrv.client import Client
from pdxsrv.domain.recipes import Facts, recommend
from pdxsrv.domain.step_costs import COSTS, STARTUP, Table, estimate
from tests.conftest import pdxsrv
from tests.training_support import project_on_generated_data, supervised_server

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
