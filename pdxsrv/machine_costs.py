"""This machine's step costs (`pdxsrv step-costs measure`, and every finished CPU training run): the file, where it
lives, whether it is this machine's.

The file (`default_path()`: `$XDG_CACHE_HOME/pdxsrv/step_costs.json`, else `~/.cache/pdxsrv/step_costs.json`;
`--step-costs FILE` names another), JSON, rewritten whole (a temporary file renamed over it, writers taking
turns on the lock file `.step_costs.json.lock` beside it) after each figure, so an interrupted measurement keeps
the models it finished:

    {"format": 1, "cpu": "AMD EPYC, AVX-512", "cores": 2,
     "costs": {"classification ResNet18": {"step": 0.816, "image": 0.0284, "measured": "2026-12-07T11:20:05Z",
                                            "paddle": "2.6.2", "samples": [
                   {"step": 0.816, "image": 0.0284, "at": "2026-12-07T11:20:05Z", "from": "measure", "busy": 3.0},
                   {"step": 0.902, "image": 0.0301, "at": "2026-12-07T15:02:11Z", "from": "run T0004",
                    "work": 3.25}]}, ...}}

`step` is seconds per training step at BATCH images of REFERENCE_SIDE px, `image` seconds per evaluated image
(`pdxsrv.domain.step_costs`). `samples` are the model's latest SAMPLES measurements and latest SAMPLES training
runs, oldest first: figures from `measure` (timed steps at that size), or from a finished training run ("run <task id>": the run's median step and its evaluations' time
per image, brought to that size by `step_costs.learned`, with `work`, its step's work relative to that size's).
The entry's `step` and `image` are the medians of its measurements (of its runs when it has none); estimates use
the measurements' medians, and the runs' for a run of about the same work (`Table.runs`). Keys are "<project
type> <model or model/backbone>"; `busy` is the share of the CPU (percent) other work used in the second before a
measurement began. An entry written before samples were kept (no `samples`) counts as one measurement. A file
measured on another CPU (a home directory shared or copied between machines) or at another core count is not used:
`load` logs why and answers None, and estimates come from the reference table.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import statistics
import tempfile
import time
from typing import Any, Iterator

from pdxsrv import system
from pdxsrv.domain.step_costs import Table

FORMAT = 1
FILE_NAME = "step_costs.json"
SAMPLES = 10  # the latest figures kept per model and source (measurements; training runs)
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
    """A document as a step-cost Table: each model's measurements' medians as its costs, its runs as its runs."""
    costs, runs = {}, {}
    for key, value in doc["costs"].items():
        kind, _, name = key.partition(" ")
        samples = samples_of(value)
        measured = [x for x in samples if not is_run(x)]
        if measured:
            costs[(kind, name)] = (statistics.median(float(x["step"]) for x in measured),
                                   statistics.median(float(x["image"]) for x in measured))
        trained = tuple((float(x["work"]), float(x["step"]), float(x["image"])) for x in samples
                        if is_run(x) and "work" in x)
        if trained:
            runs[(kind, name)] = trained
    day = max((str(v.get("measured", ""))[:10] for v in doc["costs"].values()), default="?")
    count = sum(len(v) for v in runs.values())
    measures = sum(len(samples_of(v)) for v in doc["costs"].values()) - count
    return Table(costs, int(doc["cores"]), f"this machine ({doc['cpu']}, {doc['cores']} cores; {measures} "
                                           f"`pdxsrv step-costs measure` timing{'s' * (measures != 1)} and {count} "
                                           f"training run{'s' * (count != 1)}, the latest on {day})", runs)


def is_run(sample: dict[str, Any]) -> bool:
    """Whether a figure came from a training run (else from `measure`)."""
    return str(sample.get("from", "")).startswith("run ")


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


def record(path: str, kind: str, name: str, step: float, image: float, source: str, paddle: str,
           busy: float | None = None, work: float | None = None) -> dict[str, Any]:
    """Add one figure of a model (`source`: "measure", or "run <task>" for a finished training run, with its `work`)
    to the file at `path`, for this machine (another machine's file is started afresh), keeping its latest SAMPLES
    of each source, and answer the model's entry. Writers on one machine take turns (a lock file beside it)."""
    with _locked(path):
        try:
            doc = read(path)
        except ValueError:
            doc = None
        cpu, cores = system.cpu_model(), system.cpu_capacity()[0]
        if doc is None or mismatch(doc):
            doc = {"format": FORMAT, "cpu": cpu, "cores": cores, "costs": {}}
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sample: dict[str, Any] = {"step": round(step, 4), "image": round(image, 5), "at": now, "from": source}
        if busy is not None:
            sample["busy"] = round(busy, 1)
        if work is not None:
            sample["work"] = round(work, 4)
        every = samples_of(doc["costs"].get(f"{kind} {name}")) + [sample]
        kept = {id(x) for source in (True, False) for x in [x for x in every if is_run(x) == source][-SAMPLES:]}
        samples = [x for x in every if id(x) in kept]
        summed = [x for x in samples if not is_run(x)] or samples
        entry = {"step": statistics.median(x["step"] for x in summed),
                 "image": statistics.median(x["image"] for x in summed),
                 "measured": now, "paddle": paddle, "samples": samples}
        doc["costs"][f"{kind} {name}"] = entry
        _write(path, doc)
    return entry


def samples_of(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    """An entry's figures (an entry written before they were kept is one measurement)."""
    if not entry:
        return []
    if isinstance(entry.get("samples"), list):
        return list(entry["samples"])
    old = {"step": entry["step"], "image": entry["image"], "at": entry.get("measured"), "from": "measure"}
    return [{**old, "busy": entry["busy"]} if "busy" in entry else old]


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold the lock file beside `path` (the server's measurements and training jobs write one file)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f".{os.path.basename(path)}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: str, doc: dict[str, Any]) -> None:
    """Replace the file with `doc` at once (a temporary file renamed over it)."""
    folder = os.path.dirname(os.path.abspath(path))
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
