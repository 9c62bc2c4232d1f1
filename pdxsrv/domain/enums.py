"""The original's enums, with its integers (original_behaviour.md §2); they are on the wire."""

from __future__ import annotations

from enum import IntEnum


class DatasetStatus(IntEnum):
    """Life of a dataset: created, checked, copied, split."""

    XEMPTY = 0
    XCHECKING = 1
    XCHECKFAIL = 2
    XCOPYING = 3
    XCOPYDONE = 4
    XCOPYFAIL = 5
    XSPLITED = 6


class TaskStatus(IntEnum):
    """Life of a task (XDOWNLOADING and XDOWNLOADFAIL exist for the wire only)."""

    XUNINIT = 0
    XINIT = 1
    XDOWNLOADING = 2
    XTRAINING = 3
    XTRAINDONE = 4
    XEVALUATED = 5
    XEXPORTING = 6
    XEXPORTED = 7
    XTRAINEXIT = 8
    XDOWNLOADFAIL = 9
    XTRAINFAIL = 10
    XEVALUATING = 11
    XEVALUATEFAIL = 12
    XEXPORTFAIL = 13
    XPRUNEING = 14
    XPRUNETRAIN = 15


class ProjectType(IntEnum):
    """Project and dataset types; the API names them by these member names."""

    classification = 0
    detection = 1
    segmentation = 2
    instance_segmentation = 3
    remote_segmentation = 4


class DownloadStatus(IntEnum):
    """Demo dataset preparation."""

    XDDOWNLOADING = 0
    XDDOWNLOADFAIL = 1
    XDDOWNLOADDONE = 2
    XDDECOMPRESSED = 3


class PredictStatus(IntEnum):
    """A prediction job."""

    XPRESTART = 0
    XPREDONE = 1
    XPREFAIL = 2


class PruneStatus(IntEnum):
    """A sensitivity-analysis (prune) job."""

    XSPRUNESTART = 0
    XSPRUNEING = 1
    XSPRUNEDONE = 2
    XSPRUNEFAIL = 3
    XSPRUNEEXIT = 4


class PretrainedModelStatus(IntEnum):
    """Saving a task's model as a pretrained model."""

    XPINIT = 0
    XPSAVING = 1
    XPSAVEFAIL = 2
    XPSAVEDONE = 3


class ExportedModelType(IntEnum):
    """Documented by the original, unused on its wire (exported_type is 0 inference, 1 lite)."""

    XQUANTMOBILE = 0
    XPRUNEMOBILE = 1
    XTRAINMOBILE = 2
    XQUANTSERVER = 3
    XPRUNESERVER = 4
    XTRAINSERVER = 5


class ExportedType(IntEnum):
    """What an exported-model record holds (`exported_type`: the original's 0 and 1; 2 is pdxsrv's ONNX)."""

    inference = 0
    lite = 1
    onnx = 2


# A task in one of these has a process working on it: it cannot be deleted, nor its project.
ACTIVE_TASK_STATUSES = frozenset(
    {TaskStatus.XTRAINING, TaskStatus.XPRUNETRAIN, TaskStatus.XPRUNEING, TaskStatus.XEVALUATING, TaskStatus.XEXPORTING}
)
# A dataset in one of these is being imported by a job.
ACTIVE_DATASET_STATUSES = frozenset({DatasetStatus.XCHECKING, DatasetStatus.XCOPYING})
