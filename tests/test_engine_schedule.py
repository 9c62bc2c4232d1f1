"""Learning-rate schedules: warmup then the policy, as a function of the global step."""

from __future__ import annotations

import pytest

from pdxsrv.engine.base import EngineError
from pdxsrv.engine.schedule import schedule


def test_detection_warmup_ramps_from_its_start_lr_then_decays_piecewise() -> None:
    params = {"learning_rate": 0.01, "warmup_steps": 10, "warmup_start_lr": 0.001, "lr_decay_epochs": [4, 6]}
    s = schedule(params, "detection", steps_per_epoch=5, num_epochs=8)
    assert s.policy == "Piecewise"
    assert s.at(0) == pytest.approx(0.001)
    assert s.at(5) == pytest.approx(0.0055)
    assert [s.at(k) for k in (10, 19)] == pytest.approx([0.01, 0.01])
    assert [s.at(k) for k in (20, 29, 30, 39)] == pytest.approx([0.001, 0.001, 0.0001, 0.0001])


@pytest.mark.parametrize("policy,middle", [("Cosine", 0.005), ("Linear", 0.005), ("Polynomial", 0.01 * 0.5 ** 0.9)])
def test_continuous_policies_start_after_warmup_and_end_at_zero(policy: str, middle: float) -> None:
    s = schedule({"learning_rate": 0.01, "lr_policy": policy, "warmup_steps": 10}, "detection", 10, 3)
    assert s.at(0) == 0.0 and s.at(10) == pytest.approx(0.01)
    assert s.at(20) == pytest.approx(middle)
    assert s.at(30) == pytest.approx(0.0)


@pytest.mark.parametrize("params,word", [({"learning_rate": 0}, "learning_rate"), ({"lr_policy": "Step"}, "lr_policy"),
                                         ({"lr_decay_epochs": "3"}, "lr_decay_epochs")])
def test_bad_schedule_parameters_are_named(params: dict, word: str) -> None:
    with pytest.raises(EngineError, match=word):
        schedule(params, "detection", 5, 4)
