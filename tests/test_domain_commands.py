"""Commands are pure and refuse with a typed error and a clear message, changing nothing."""

from __future__ import annotations

import pytest

from pdxsrv.domain import commands as c
from pdxsrv.domain.apply import fold
from pdxsrv.domain.enums import DatasetStatus, ProjectType, TaskStatus
from pdxsrv.domain.errors import Conflict, InvalidArgument, NotFound
from pdxsrv.domain.events import to_log_event
from pdxsrv.domain.ids import format_id, parse_id
from pdxsrv.domain.state import EMPTY, Workspace
from eventlog import Record


def do(state: Workspace, command, *args, **kwargs) -> Workspace:
    events = [to_log_event(e) for e in command(state, *args, **kwargs)]
    return fold([Record(state.seq + i + 1, 0.0, e.type, e.v, e.data) for i, e in enumerate(events)], state)


def test_enums_keep_the_original_integers() -> None:
    assert DatasetStatus.XSPLITED == 6 and TaskStatus.XPRUNETRAIN == 15 and TaskStatus.XTRAINFAIL == 10
    assert ProjectType.remote_segmentation == 4


def test_ids_are_formatted_like_the_original_and_never_reused() -> None:
    assert format_id("D", 7) == "D0007" and format_id("PM", 12345) == "PM12345"
    assert parse_id("EM0003") == ("EM", 3) and parse_id("X1") is None
    s = do(EMPTY, c.create_dataset, "a", "", "classification")
    s = do(s, c.delete_dataset, "D0001")
    s = do(s, c.create_dataset, "b", "", "classification")
    assert list(s.datasets) == ["D0002"]


def test_unknown_type_names_the_value_and_the_choices() -> None:
    with pytest.raises(InvalidArgument) as info:
        c.create_dataset(EMPTY, "a", "", "detection_voc")
    assert "'detection_voc'" in info.value.message and "classification" in info.value.message


def test_a_dataset_used_by_a_project_cannot_be_deleted() -> None:
    s = do(EMPTY, c.create_dataset, "a", "", "segmentation")
    s = do(s, c.create_project, "p", "", "segmentation")
    s = do(s, c.set_attributes, "project", "P0001", {"did": "D0001"})
    with pytest.raises(Conflict) as info:
        c.delete_dataset(s, "D0001")
    assert "P0001" in info.value.message


def test_binding_checks_the_dataset_exists_and_has_the_projects_type() -> None:
    s = do(EMPTY, c.create_dataset, "a", "", "detection")
    s = do(s, c.create_project, "p", "", "segmentation")
    with pytest.raises(NotFound):
        c.set_attributes(s, "project", "P0001", {"did": "D0009"})
    with pytest.raises(Conflict) as info:
        c.set_attributes(s, "project", "P0001", {"did": "D0001"})
    assert "detection" in info.value.message and "segmentation" in info.value.message


@pytest.mark.parametrize("attribute", ["id", "path", "type", "create_time", "pid"])
def test_unsafe_attributes_are_refused(attribute: str) -> None:
    s = do(EMPTY, c.create_project, "p", "", "segmentation")
    with pytest.raises(InvalidArgument) as info:
        c.set_attributes(s, "project", "P0001", {attribute: "/etc"})
    assert repr(attribute) in info.value.message


def test_a_task_needs_a_bound_dataset_and_copies_its_parents_params() -> None:
    s = do(EMPTY, c.create_project, "p", "", "classification")
    with pytest.raises(Conflict):
        c.create_task(s, "P0001", {})
    s = do(s, c.create_dataset, "a", "", "classification")
    s = do(s, c.set_attributes, "project", "P0001", {"did": "D0001"})
    recommended = {"num_epochs": 9, "batch_size": 4}
    s = do(s, c.create_task, "P0001", {"model": "MobileNetV3_small", "num_epochs": 3}, recommended=recommended)
    assert s.tasks["T0001"].params == {"model": "MobileNetV3_small", "num_epochs": 3, "batch_size": 4}
    s = do(s, c.create_task, "P0001", {"ignored": True}, parent_id="T0001")
    assert s.tasks["T0002"].params == s.tasks["T0001"].params and s.tasks["T0002"].parent_id == "T0001"
    s = do(s, c.set_task_params, "T0001", {"num_epochs": "5"})
    assert s.tasks["T0001"].params == {"model": "MobileNetV3_small", "num_epochs": 5, "batch_size": 4}
    with pytest.raises(InvalidArgument, match="did you mean 'num_epochs'"):
        c.set_task_params(s, "T0001", {"epochs": 5})


def test_deleting_a_project_deletes_its_tasks() -> None:
    s = do(EMPTY, c.create_project, "p", "", "classification")
    s = do(s, c.create_dataset, "a", "", "classification")
    s = do(s, c.set_attributes, "project", "P0001", {"did": "D0001"})
    s = do(s, c.create_task, "P0001", {})
    s = do(s, c.delete_project, "P0001")
    assert not s.tasks and not s.projects and s.counters.task == 1


def test_missing_ids_are_not_found() -> None:
    with pytest.raises(NotFound) as info:
        c.delete_task(EMPTY, "T0042")
    assert "T0042" in info.value.message
    with pytest.raises(NotFound):
        c.delete_pretrained_model(EMPTY, "PM0001")


def test_a_task_with_a_running_job_blocks_deleting_it_its_project_and_rebinding() -> None:
    from pdxsrv.domain.state import evolve

    s = do(EMPTY, c.create_project, "p", "", "classification")
    s = do(s, c.create_dataset, "a", "", "classification")
    s = do(s, c.create_dataset, "b", "", "classification")
    s = do(s, c.set_attributes, "project", "P0001", {"did": "D0001"})
    s = do(s, c.create_task, "P0001", {})
    s = evolve(s, tasks=s.tasks.set("T0001", evolve(s.tasks["T0001"], status=TaskStatus.XTRAINING)))
    for command, args in ((c.delete_task, ("T0001",)), (c.delete_project, ("P0001",)),
                          (c.set_attributes, ("project", "P0001", {"did": "D0002"}))):
        with pytest.raises(Conflict) as info:
            command(s, *args)
        assert "T0001" in info.value.message and ("stop it first" in info.value.message or "stop it" in info.value.message)
