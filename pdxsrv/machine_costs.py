"""This machine's step costs (`pdxsrv step-costs measure`): the file, where it lives, whether it is this machine's.

The file (`default_path()`: `$XDG_CACHE_HOME/pdxsrv/step_costs.json`, else `~/.cache/pdxsrv/step_costs.json`;
`--step-costs FILE` names another), JSON, rewritten whole (a temporary file renamed over it) after each
model measured, so an interrupted measurement keeps the models it finished:

    {"format": 1, "cpu": "AMD EPYC, AVX-512", "cores": 2,
     "costs": {"classification ResNet18": {"step": 0.816, "image": 0.0284, "measured": "2026-12-07T11:20:05Z",
                                            "busy": 3.0, "paddle": "2.6.2"}, ...}}

`step` is seconds per training step at BATCH images of REFERENCE_SIDE px, `image` seconds per evaluated image
(`pdxsrv.domain.step_costs`); keys are "<project type> <model or model/backbone>"; `busy` is the share of the CPU
(percent) other work used in the second before the measurement began. A file measured on another CPU (a home
directory shared or copied between machines) or at another core count is not used: `load` logs why and answers
None, and estimates come from the reference table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from typing import Any

from pdxsrv import system
from pdxsrv.domain.step_costs import Table

FORMAT = 1
FILE_NAME = "step_costs.json"
log = logging.getLogger(__name__)
_loaded: dict[str, tuple[tuple[int, int], Table | None]] = {}  # path -> ((mtime_ns, size), its table)


def default_path() -> str:
    """$XDG_CACHE_HOME/pdxsrv/step_costs.json, else ~/.cache/pdxsrv/step_costs.json."""
    return os.path.join(system.cache_home(), FILE_NAME)


def read(path: str) -> dict[str, Any] | None:
    """The file's document, None when there is none; ValueError naming the file when it is not one of ours."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a step-cost file ({exc}); delete it and run `pdxsrv step-costs measure`") \
            from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("costs"), dict):
        raise ValueError(f"{path}: not a step-cost file of format {FORMAT}; delete it and run "
                         "`pdxsrv step-costs measure`")
    return doc


def table_of(doc: dict[str, Any]) -> Table:
    """The measured costs of a document as a step-cost Table."""
    costs = {}
    for key, value in doc["costs"].items():
        kind, _, name = key.partition(" ")
        costs[(kind, name)] = (float(value["step"]), float(value["image"]))
    day = max((str(v.get("measured", ""))[:10] for v in doc["costs"].values()), default="?")
    return Table(costs, int(doc["cores"]), f"this machine ({doc['cpu']}, {doc['cores']} cores; `pdxsrv step-costs "
                                            f"measure`, last on {day})")


def mismatch(doc: dict[str, Any]) -> str | None:
    """Why a document does not describe this machine, or None when it does."""
    cpu, cores = system.cpu_model(), system.cpu_capacity()[0]
    if doc.get("cpu") != cpu or doc.get("cores") != cores:
        return f"measured on {doc.get('cpu')} with {doc.get('cores')} cores, this machine is {cpu} with {cores}"
    return None


def load(path: str | None) -> Table | None:
    """This machine's measured step costs from `path`, or None (no path or file, an unreadable one, another
    machine's: logged once per version of the file). Re-read only when the file changes."""
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    version = (info.st_mtime_ns, info.st_size)
    known = _loaded.get(path)
    if known is not None and known[0] == version:
        return known[1]
    table = None
    try:
        doc = read(path)
        why = mismatch(doc) if doc else None
        if why:
            log.warning("%s is not this machine's step costs (%s); estimates use the reference table until "
                        "`pdxsrv step-costs measure` measures this one", path, why)
        elif doc and doc["costs"]:
            table = table_of(doc)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s: %s; estimates use the reference table", path, exc)
    _loaded[path] = (version, table)
    return table


def record(path: str, kind: str, name: str, step: float, image: float, busy: float, paddle: str) -> None:
    """Add (or replace) one model's measured costs in the file at `path`, for this machine; another machine's
    file is started afresh."""
    try:
        doc = read(path)
    except ValueError:
        doc = None
    cpu, cores = system.cpu_model(), system.cpu_capacity()[0]
    if doc is None or mismatch(doc):
        doc = {"format": FORMAT, "cpu": cpu, "cores": cores, "costs": {}}
    doc["costs"][f"{kind} {name}"] = {
        "step": round(step, 4), "image": round(image, 5), "busy": round(busy, 1),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "paddle": paddle,
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".step_costs-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
