"""The integer codes in answers: which field carries which domain enum, and what each value means.

The one registry of them: `/openapi.json` documents every coded field from it (`openapi.py`), and
the README's status table is generated from it (`python -m pdxsrv.api.status_codes` prints the
table; tests/test_openapi_enums.py checks the README holds it). Integers and names are the domain
enums' own (`pdxsrv.domain.enums`); only the meanings are written here.

Schema convention (OpenAPI 3.1 / JSON Schema): `{"type": "integer", "enum": [values],
"x-enum-varnames": [names], "x-enum-descriptions": [meanings], "description": "0 XEMPTY: ..."}`,
the extension keys being openapi-generator's (its clients get named constants from them). A field
that may be null (never started) is `{"anyOf": [<that>, {"type": "null"}]}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from pdxsrv.domain.enums import (DatasetStatus, DownloadStatus, ExportedType, PredictStatus, ProjectType,
                                 PruneStatus, TaskStatus)

# What each value means, per enum (a dict per enum: IntEnum members of different enums compare equal).
MEANINGS: dict[type[IntEnum], dict[Any, str]] = {
    DatasetStatus: {
        DatasetStatus.XEMPTY: "created; nothing imported yet",
        DatasetStatus.XCHECKING: "the import is checking the files (`message`: how many)",
        DatasetStatus.XCHECKFAIL: "the import found a problem (`message` names the file); nothing was kept",
        DatasetStatus.XCOPYING: "the import is copying the files (`message`: percent done)",
        DatasetStatus.XCOPYDONE: "imported; split it next",
        DatasetStatus.XCOPYFAIL: "copying failed (`message` says why); nothing was kept",
        DatasetStatus.XSPLITED: "imported and split: ready to train on",
    },
    TaskStatus: {
        TaskStatus.XUNINIT: "the original's; pdxsrv never answers it",
        TaskStatus.XINIT: "created, not trained yet",
        TaskStatus.XDOWNLOADING: "the original's; pdxsrv reports a weights download in `message` while XTRAINING",
        TaskStatus.XTRAINING: "training",
        TaskStatus.XTRAINDONE: "trained all its epochs",
        TaskStatus.XEVALUATED: "trained and evaluated",
        TaskStatus.XEXPORTING: "exporting",
        TaskStatus.XEXPORTED: "exported",
        TaskStatus.XTRAINEXIT: "training stopped; resumable from its checkpoints",
        TaskStatus.XDOWNLOADFAIL: "the original's; pdxsrv fails the task XTRAINFAIL when weights cannot be had",
        TaskStatus.XTRAINFAIL: "training failed (`message` says why); resumable from its last checkpoint",
        TaskStatus.XEVALUATING: "evaluating",
        TaskStatus.XEVALUATEFAIL: "the evaluation failed",
        TaskStatus.XEXPORTFAIL: "the export failed or was stopped; nothing was written",
        TaskStatus.XPRUNEING: "its sensitivity analysis (pruning) is running",
        TaskStatus.XPRUNETRAIN: "a pruning task (parent_id) is training",
    },
    PruneStatus: {
        PruneStatus.XSPRUNESTART: "the sensitivity analysis is starting",
        PruneStatus.XSPRUNEING: "analysing (`message`: evaluations done)",
        PruneStatus.XSPRUNEDONE: "done: sensitivities ready (`metrics` type `sensitivities`)",
        PruneStatus.XSPRUNEFAIL: "failed (`message` says why)",
        PruneStatus.XSPRUNEEXIT: "stopped",
    },
    PredictStatus: {
        PredictStatus.XPRESTART: "predicting",
        PredictStatus.XPREDONE: "done",
        PredictStatus.XPREFAIL: "failed or stopped (`message` says which)",
    },
    DownloadStatus: {
        DownloadStatus.XDDOWNLOADING: "fetching or generating (`progress` in percent)",
        DownloadStatus.XDDOWNLOADFAIL: "failed or stopped (`message` says why)",
        DownloadStatus.XDDOWNLOADDONE: "fetched; unpacking and checking",
        DownloadStatus.XDDECOMPRESSED: "ready to load",
    },
    ExportedType: {
        ExportedType.inference: "a paddle inference program",
        ExportedType.lite: "a Paddle Lite model",
        ExportedType.onnx: "an ONNX model",
    },
    ProjectType: {
        ProjectType.classification: "image classification",
        ProjectType.detection: "object detection",
        ProjectType.segmentation: "semantic segmentation",
        ProjectType.instance_segmentation: "instance segmentation",
        ProjectType.remote_segmentation: "remote-sensing segmentation",
    },
}


@dataclass(frozen=True)
class Coded:
    """A field whose integer is one of `enum`'s members (`members`: the ones it can take, default all)."""

    enum: type[IntEnum]
    where: str  # where it is answered, for people
    members: tuple[IntEnum, ...] = field(default=())
    nullable: bool = False

    def values(self) -> tuple[IntEnum, ...]:
        """The members this field takes."""
        return self.members or tuple(self.enum)


# Answer fields by name (their place in each answer: openapi.py), and the demo's `attr.status` and `prj_type` argument.
FIELDS: dict[str, Coded] = {
    "dataset_status": Coded(DatasetStatus, "`GET /dataset`; `status` of `GET /workspace {struct: dataset}`"),
    "task_status": Coded(TaskStatus, "`GET /project/task`; `status` of its task rows and of `GET /project`'s tasks"),
    "prune_status": Coded(PruneStatus, "`GET`/`PUT /project/task/prune`"),
    "evaluate_status": Coded(TaskStatus, "`GET /project/task/evaluate`",
                             (TaskStatus.XEVALUATING, TaskStatus.XEVALUATED, TaskStatus.XEVALUATEFAIL)),
    "predict_status": Coded(PredictStatus, "`GET`/`PUT /project/task/predict`"),
    "export_status": Coded(TaskStatus, "`GET`/`PUT /project/task/export`",
                           (TaskStatus.XEXPORTING, TaskStatus.XEXPORTED, TaskStatus.XEXPORTFAIL)),
    "status (demo)": Coded(DownloadStatus, "`attr.status` of `GET /demo`; null before any preparation",
                           nullable=True),
    "exported_type": Coded(ExportedType, "`exported_models` of `GET /model`; `POST /model {type: exported}`"),
    "prj_type": Coded(ProjectType, "argument of `/demo`, or the name; datasets and projects answer the name"),
}


def meaning(member: IntEnum) -> str:
    """What `member` means."""
    return MEANINGS[type(member)][member]


def description(coded: Coded) -> str:
    """`0 XEMPTY: created; ...` — one line per value."""
    return "; ".join(f"{int(m)} {m.name}: {meaning(m)}" for m in coded.values())


def schema(name: str) -> dict[str, Any]:
    """The JSON schema of the coded field `name` (see the module docstring for the convention)."""
    coded = FIELDS[name]
    members = coded.values()
    one = {"type": "integer", "title": coded.enum.__name__, "enum": [int(m) for m in members],
           "x-enum-varnames": [m.name for m in members], "x-enum-descriptions": [meaning(m) for m in members],
           "description": description(coded)}
    return {"anyOf": [one, {"type": "null"}], "description": one["description"]} if coded.nullable else one


def markdown_table() -> str:
    """The README's status table: every coded field, integer → name → meaning."""
    lines = ["| field | value | name | meaning |", "|---|---|---|---|"]
    for name, coded in FIELDS.items():
        for i, m in enumerate(coded.values()):
            label = f"`{name.split()[0]}` ({coded.where})" if i == 0 else ""
            lines.append(f"| {label} | {int(m)} | {m.name} | {meaning(m)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
