"""The console's copy of the status names (pdxsrv/web/enums.js) is the domain's: the page cannot drift from the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pdxsrv.domain.commands import TYPES
from pdxsrv.domain.enums import DatasetStatus, ExportedType, PredictStatus, PruneStatus, TaskStatus

ENUMS_JS = (Path(__file__).resolve().parent.parent / "pdxsrv" / "web" / "enums.js").read_text(encoding="utf-8")


def _block(name: str) -> str:
    """The text of `export const NAME = ...;`."""
    match = re.search(rf"export const {name} = (.*?);\n", ENUMS_JS, re.S)
    assert match, f"enums.js has no {name}"
    return match.group(1)


@pytest.mark.parametrize("name,enum", [("DATASET_STATUS", DatasetStatus), ("TASK_STATUS", TaskStatus),
                                       ("PREDICT_STATUS", PredictStatus), ("PRUNE_STATUS", PruneStatus)])
def test_every_status_has_the_domains_number_and_name(name: str, enum: Any) -> None:
    pairs = {int(n): s for n, s in re.findall(r'(\d+): \["(\w+)"', _block(name))}
    assert pairs == {member.value: member.name for member in enum}


def test_exported_types_and_project_types_are_the_domains() -> None:
    assert dict((int(n), s) for n, s in re.findall(r'(\d+): "(\w+)"', _block("EXPORTED_TYPE"))) == {
        member.value: member.name for member in ExportedType}
    assert re.findall(r'"(\w+)"', _block("PROJECT_TYPES")) == list(TYPES)
