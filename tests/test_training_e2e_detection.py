"""The recommended parameters learn, then evaluate, predict and export: detection and instance segmentation.

The same path as test_training_e2e.py (whose helper this uses), in a file of its own: pytest-xdist hands out
whole files, and these two trainings are the slowest of the five types.
"""

from __future__ import annotations

import pytest

from tests.conftest import Server
from tests.test_training_e2e import learn_evaluate_predict_export
from tests.training_support import supervised_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with supervised_server(tmp_path_factory.mktemp("detection-training")) as srv:
        yield srv


@pytest.mark.parametrize("kind", ["detection", "instance_segmentation"])
def test_recommended_parameters_learn_then_evaluate_predict_export(server: Server, kind: str) -> None:
    learn_evaluate_predict_export(server, kind)
