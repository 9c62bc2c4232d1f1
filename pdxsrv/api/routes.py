"""The route table: every route, method and argument of the API, in one place.

Handlers validate with it (`APIHandler.prepare`) and `/openapi.json` is generated from it.
"""

from __future__ import annotations

from typing import Any

from pdxsrv.api.base import Context
from pdxsrv.api.datasets import DatasetDetailsHandler, DatasetHandler, DatasetSplitHandler
from pdxsrv.api.demo import DemoHandler
from pdxsrv.api.browse import BrowseHandler
from pdxsrv.api.events_log import DEFAULT_LIMIT, EventLogHandler
from pdxsrv.api.events_stream import EventStreamHandler
from pdxsrv.api.export_archive import ExportArchiveHandler
from pdxsrv.api.legacy import LegacyDemoHandler
from pdxsrv.api.file import FileHandler
from pdxsrv.api.models import ModelHandler
from pdxsrv.api.openapi import OpenAPIHandler
from pdxsrv.api.projects import ProjectHandler
from pdxsrv.api.spec import ANY, BOOL, FLOAT, INT, INT_LIST, OBJECT, STR_LIST, Arg, Op
from pdxsrv.api.system import SystemHandler
from pdxsrv.api.evaluation import EvaluateHandler, PredictHandler
from pdxsrv.api.task_jobs import ExportHandler, PruneHandler
from pdxsrv.api.vdl import VdlHandler
from pdxsrv.api.training import MetricsHandler, TrainHandler
from pdxsrv.api.tasks import TaskHandler, TaskParamsHandler
from pdxsrv.api.workspace import WorkspaceHandler
from pdxsrv.datasets.split import DEFAULT_SEED
from pdxsrv.domain.commands import TYPES
from pdxsrv.domain.train_schema import json_schema

STRUCTS = ("dataset", "project", "task")
DID = Arg("did", required=True, doc="dataset id, e.g. D0001")
TID = Arg("tid", required=True, doc="task id, e.g. T0001")
# The training parameters, one schema per project type (pdxsrv.domain.train_schema), in /openapi.json's components.
SCHEMAS: dict[str, Any] = {f"TrainParams.{t}": json_schema(t) for t in TYPES}
TRAIN_SCHEMA = {"anyOf": [*({"$ref": f"#/components/schemas/TrainParams.{t}"} for t in TYPES),
                          {"type": "string", "description": "the object as a JSON string (as the web demo sends it)"}]}
TRAIN_DOC = "training parameters of the project's type (object or JSON string; components.schemas.TrainParams.<type>)"
SET_ATTRIBUTES = Op(
    "Change name/desc of a dataset, project or task, or bind a project to a dataset (did)",
    (Arg("struct", required=True, choices=STRUCTS), Arg("id", required=True), Arg("attr_dict", OBJECT, required=True)),
)

ROUTES: list[tuple[str, type, dict[str, Op]]] = [
    ("/workspace", WorkspaceHandler, {
        "GET": Op("The workspace directory; with struct and id, attributes of a dataset, project or task",
                  (Arg("struct", choices=STRUCTS), Arg("id"), Arg("attr_list", STR_LIST)), ("dirname", "attr")),
        "PUT": SET_ATTRIBUTES,
        "POST": SET_ATTRIBUTES,
    }),
    ("/dataset", DatasetHandler, {
        "GET": Op("One dataset (did) or all", (Arg("did"),), ("id", "dataset_status", "message", "attr", "datasets")),
        "POST": Op("Create a dataset", (Arg("name", required=True), Arg("desc", default=""),
                                        Arg("dataset_type", required=True, choices=TYPES)), ("did",)),
        "PUT": Op("Import files into a dataset (a job)", (DID, Arg("path", required=True, doc="source directory")),
                  job=True),
        "DELETE": Op("Delete a dataset and its files", (DID,)),
    }),
    ("/dataset/details", DatasetDetailsHandler, {
        "GET": Op("Statistics of an imported dataset (null before import)", (DID,), ("details",)),
    }),
    ("/dataset/split", DatasetSplitHandler, {
        "PUT": Op("Split an imported dataset (seeded: the same seed gives the same split)",
                  (DID, Arg("val_split", FLOAT, required=True), Arg("test_split", FLOAT, default=0.0),
                   Arg("seed", INT, default=DEFAULT_SEED))),
    }),
    ("/file", FileHandler, {
        "GET": Op("A file: images as base64 img_data (with did: its labels drawn), xml/log/txt/json/yaml/npy as is",
                  (Arg("path", required=True), Arg("did"),
                   Arg("bands", INT_LIST, doc="remote sensing: the three bands to show (default 0,1,2)")),
                  ("img_data",)),
    }),
    ("/project", ProjectHandler, {
        "GET": Op("One project (id) with its tasks, or all", (Arg("id"),), ("attr", "projects")),
        "POST": Op("Create a project", (Arg("name", required=True), Arg("desc", default=""),
                                        Arg("project_type", required=True, choices=TYPES),
                                        Arg("path", doc="refused: a project's directory is not chosen")), ("pid",)),
        "DELETE": Op("Delete a project and its tasks", (Arg("pid", required=True),)),
    }),
    ("/project/task", TaskHandler, {
        "GET": Op("One task's status (tid; with resume, its resumability), a project's tasks (pid), or all",
                  (Arg("tid"), Arg("resume", ANY), Arg("pid")),
                  ("task_status", "message", "type", "resumable", "max_saved_epochs", "tasks")),
        "POST": Op("Create a task (parent_id: a pruning task of that training task)",
                   (Arg("pid", required=True),
                    Arg("train", OBJECT, doc=TRAIN_DOC + "; missing keys take the recommended values",
                        schema=TRAIN_SCHEMA),
                    Arg("desc", default=""), Arg("parent_id")), ("tid",)),
        "DELETE": Op("Delete a task and its files", (TID,)),
    }),
    ("/project/task/params", TaskParamsHandler, {
        "GET": Op("A task's parameters (tid), or a project's recommended ones (pid) with their recipe (fine_tune or "
                  "from_scratch) and estimated training time",
                  (Arg("tid"), Arg("pid"), Arg("model_type"), Arg("gpu_list", INT_LIST)),
                  ("train", "recipe", "estimate")),
        "POST": Op("Set a task's parameters (before it first trains): merged into its parameters",
                   (TID, Arg("train", OBJECT, required=True, doc=TRAIN_DOC, schema=TRAIN_SCHEMA))),
    }),
    ("/project/task/train", TrainHandler, {
        "POST": Op("Start training (refused when the task has a trained model, unless discard is true)",
                   (TID, Arg("pruned_flops", FLOAT), Arg("eval_metric_loss", FLOAT),
                    Arg("discard", BOOL, default=False,
                        doc="train afresh even though the task has a trained model, deleting its checkpoints")),
                   job=True),
        "PUT": Op("Stop or resume training", (TID, Arg("act", required=True, choices=("stop", "resume")),
                                              Arg("epoch", INT)), job=True),
    }),
    ("/project/task/prune", PruneHandler, {
        "GET": Op("Sensitivity analysis status", (TID,), ("prune_status", "message")),
        "POST": Op("Start the sensitivity analysis (then POST /project/task {parent_id} and train it with "
                   "pruned_flops)", (TID,), job=True),
        "PUT": Op("Stop the sensitivity analysis", (TID, Arg("act", default="stop", choices=("stop",))),
                  ("prune_status", "message"), job=True),
    }),
    ("/project/task/evaluate", EvaluateHandler, {
        "GET": Op("Evaluation status and result", (TID,), ("evaluate_status", "message", "result", "path")),
        "POST": Op("Start an evaluation", (TID, Arg("epoch", INT), Arg("topk", INT), Arg("score_thresh", FLOAT),
                                           Arg("overlap_thresh", FLOAT)), job=True),
    }),
    ("/project/task/metrics", MetricsHandler, {
        "GET": Op("Training log, evaluation metrics, sensitivities or pruning log",
                  (TID, Arg("type", required=True, choices=("train", "eval", "eval_all", "sensitivities", "prune"))),
                  ("train_log", "eval_metric", "sensitivities_loss_img", "sensitivities", "chart_path", "prune_log")),
    }),
    ("/project/task/predict", PredictHandler, {
        "GET": Op("Prediction status", (TID,), ("predict_status", "message", "predict_num", "total_num", "results")),
        "POST": Op("Predict an image (image_data, base64) or images (img_list)",
                   (TID, Arg("image_data"), Arg("img_list", STR_LIST), Arg("score_thresh", FLOAT, default=0.5),
                    Arg("epoch", INT), Arg("save_dir", doc="refused: results always go to the task's "
                                            "visualized_test_results/ (the answer's path names them)")),
                   ("path",), job=True),
        "PUT": Op("Stop a prediction", (TID,), ("predict_status", "message"), job=True),
    }),
    ("/project/task/export", ExportHandler, {
        "GET": Op("Export status, or the quantization log/result", (TID, Arg("quant", choices=("log", "result"))),
                  ("export_status", "message", "save_dir", "quant_log", "quant_result")),
        "POST": Op("Export the model (infer, lite, onnx; 'inference' is read as infer, as the original's docs wrote it)",
                   (TID, Arg("type", required=True, choices=("infer", "inference", "lite", "onnx")), Arg("save_dir"),
                    Arg("epoch", INT), Arg("quant", BOOL, default=False),
                    Arg("model_path", doc="type 'lite' only (refused with any other type)")),
                   ("save_dir", "message"), job=True),
        "PUT": Op("Stop an export", (TID,), ("export_status", "message"), job=True),
    }),
    ("/project/task/export/archive", ExportArchiveHandler, {
        "GET": Op("Extension: a task's export (the latest, or the one in save_dir) as one zip download",
                  (TID, Arg("save_dir", doc="the directory of one of the task's exports (default: the latest)")),
                  ("application/zip",)),
    }),
    ("/project/task/vdl", VdlHandler, {
        "GET": Op("URL of the task's VisualDL board behind this server: host:port/vdl/<tid>/ (no scheme, as the "
                  "original), with a short-lived vdl_ticket under --token", (TID,), ("url",), job=True),
    }),
    ("/system", SystemHandler, {
        "GET": Op("Machine facts or GPU memory, read live (machine_info also answers, beyond the original: "
                  "cpu_percent, mem_total_mb, mem_available_mb and, with GPUs, gpu_util in percent)",
                  (Arg("type", required=True, choices=("machine_info", "gpu_memory_size")),), ("info", "gpu_mem_infos")),
        "DELETE": Op("Stop every queued or running job as its own stop does (training saves what it can); answers "
                     "which jobs stopped (stopped), which are still saving (stopping), and each one's state (jobs)",
                     (), ("stopped", "stopping", "jobs", "message"), job=True),
    }),
    ("/demo", DemoHandler, {
        "GET": Op("Demo preparation status (DownloadStatus, progress in percent, message)",
                  (Arg("prj_type", ANY, required=True, doc="project type: 0-4 or its name"),), ("attr",), job=True),
        "POST": Op("Prepare (download: from --demo-mirror, else generated) or load a demo project",
                   (Arg("type", required=True, choices=("download", "load")),
                    Arg("prj_type", ANY, required=True, doc="project type: 0-4 or its name")),
                   ("did", "pid", "tid", "loading_status"), job=True),
        "PUT": Op("Cancel a demo's preparation, or a load whose import has not finished",
                  (Arg("prj_type", ANY, required=True, doc="project type: 0-4 or its name"),), job=True),
    }),
    ("/model", ModelHandler, {
        "GET": Op("One model (mid) or all of a type", (Arg("mid"), Arg("type", choices=("pretrained", "exported"))),
                  ("dataset_attr", "task_params", "eval_result", "pretrained_models", "exported_models",
                   "message")),
        "POST": Op("Save a task's model as a pretrained model, or record an exported model",
                   (Arg("type", required=True, choices=("pretrained", "exported")), Arg("pid"), Arg("tid"),
                    Arg("name"), Arg("source_path"), Arg("path"), Arg("exported_type", INT),
                    Arg("eval_results", OBJECT)), ("pmid", "emid")),
        "DELETE": Op("Delete a pretrained model (and its copy) or an exported-model record",
                     (Arg("type", required=True, choices=("pretrained", "exported")), Arg("pmid"), Arg("emid"))),
    }),
    ("/events/stream", EventStreamHandler, {
        "GET": Op("Workspace events as Server-Sent Events, live (resume with Last-Event-ID or since)",
                  (Arg("tid"), Arg("did"), Arg("pid"), Arg("type", STR_LIST, doc="event types or globs"),
                   Arg("since", INT, doc="send the events after this seq")), ("text/event-stream",)),
    }),
    ("/events/log", EventLogHandler, {
        "GET": Op("Extension: the workspace's event log, newest first, a page at a time (read-only)",
                  (Arg("before", INT, doc="only events with a smaller seq (next_before of the previous page)"),
                   Arg("limit", INT, default=DEFAULT_LIMIT, doc="events per page, 1 to 1000"),
                   Arg("id", doc="only events about this object (did, pid, tid, pmid, emid or job id)"),
                   Arg("type", STR_LIST, doc="event types or globs")), ("events", "next_before")),
    }),
    ("/browse", BrowseHandler, {
        "GET": Op("Extension: a read-only listing of a directory inside the allowed roots (no path: the roots)",
                  (Arg("path", doc="a directory inside the workspace or an --allow-path root"),),
                  ("path", "parent", "entries", "truncated")),
    }),
    ("/paddlex_restful_demo.html", LegacyDemoHandler, {
        "GET": Op("The operator's copy of the original web demo page (--legacy-demo), pointed at this server; "
                  "no token needed", (), ("text/html",)),
    }),
    ("/openapi.json", OpenAPIHandler, {"GET": Op("This API as an OpenAPI 3.1 document")}),
]


def make_routes(ctx: Context) -> list[tuple[str, type, dict[str, Any]]]:
    """Routes bound to their dependencies and operations."""
    return [(path, handler, {"ctx": ctx, "ops": ops}) for path, handler, ops in ROUTES]
