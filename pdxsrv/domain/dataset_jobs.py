"""How an import job's reports and end move its dataset's status (pure, used by the fold)."""

from __future__ import annotations

from typing import Any

from pdxsrv.domain.enums import ACTIVE_DATASET_STATUSES, DatasetStatus
from pdxsrv.domain.jobs import ACTIVE, job_outcome
from pdxsrv.domain.state import Dataset, Job, evolve

PHASE_STATUS = {"checking": DatasetStatus.XCHECKING, "copying": DatasetStatus.XCOPYING}
FAIL_STATUS = {"checking": DatasetStatus.XCHECKFAIL, "copying": DatasetStatus.XCOPYFAIL}


def after_report(dataset: Dataset, kind: str, data: dict[str, Any]) -> Dataset:
    """The dataset after one report of its import job."""
    if kind == "progress" and data.get("phase") in PHASE_STATUS:
        return evolve(dataset, status=PHASE_STATUS[data["phase"]], progress=dict(data), message="")
    if kind != "done":
        return dataset
    if not data.get("ok"):
        return evolve(dataset, status=FAIL_STATUS.get(data.get("phase"), DatasetStatus.XCHECKFAIL),
                      message=str(data.get("message", "the import failed")))
    summary = dict(data.get("summary") or {})
    status = DatasetStatus.XSPLITED if data.get("presplit") else DatasetStatus.XCOPYDONE
    return evolve(dataset, status=status, message="", summary=summary,
                  num_classes=len(summary.get("labels", [])), train_num=int(summary.get("train_num", 0)))


def after_state(dataset: Dataset, job: Job) -> Dataset:
    """The dataset after its import job ended without saying how (killed, crashed, lost)."""
    if job.state in ACTIVE or dataset.status not in ACTIVE_DATASET_STATUSES:
        return dataset
    failed = FAIL_STATUS["copying" if dataset.status == DatasetStatus.XCOPYING else "checking"]
    return evolve(dataset, status=failed, message=job_outcome(job))
