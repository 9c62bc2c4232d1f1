"""The demo preparation job: fetch a type's demo archive from the mirror, or build the demo from the generators.

Parameters (`job.json`): `{"prj_type", "archive", "folder": <workspace>/demo_datasets/<type>, "mirror": URL|null}`.
With a mirror the archive is fetched (`pdxsrv.download`: resumable, checked against the mirror's
`<archive>.sha256`), extracted safely (`pdxsrv.datasets.archive`) and must hold `<name>/<name>_params.json`
(`<name>` = the archive's name without `.tar.gz`). Without one, or when the mirror cannot serve the archive at
all, the type's recipe is generated (`pdxsrv.datasets.demo_data`). Either way the dataset is checked by its type's
reader, built in `<folder>/.incoming/` and only then moved to `<folder>/<name>/`, replacing an older copy; a
stopped or failed job leaves no half demo (a partial download stays, for the next one to resume).
Reports: see `pdxsrv.domain.demos` (progress phases, the `done` record).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from types import FrameType
from typing import Any

from pdxsrv import download
from pdxsrv.datasets import archive as archives
from pdxsrv.datasets.demo_data import RECIPES, DemoFileError, build, read_params
from pdxsrv.datasets.readers import READERS
from pdxsrv.datasets.scan import DatasetError
from supervisor import report

STAGING = ".incoming"
PROGRESS_EVERY = 0.25  # seconds between progress reports
_stop_requested = False


class Stopped(Exception):
    """SIGTERM arrived (PUT /demo) and was noticed between two steps: unwind, remove the staging folder, report."""


class Failed(Exception):
    """The preparation cannot succeed; the message says why, for the user."""


def _stop(signum: int, frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True  # acted on between steps, never in the middle of a journal write


def _check_stop() -> None:
    if _stop_requested:
        raise Stopped()


def _progress(phase: str, message: str) -> Any:
    """A progress callback: it checks for a stop at every call and reports at most every PROGRESS_EVERY s."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        _check_stop()
        if time.monotonic() - last[0] >= PROGRESS_EVERY or (total and done >= total):
            last[0] = time.monotonic()
            report.progress(phase=phase, done=done, total=total, message=message)
    return progress


def _from_mirror(params: dict[str, Any], staging: str) -> str:
    """Fetch, verify and extract the archive into `staging`; return the demo's name."""
    url, archive, folder = params["mirror"], params["archive"], params["folder"]
    path = download.download(download.join(url, archive), folder, archive,
                             _progress("downloading", f"downloading {archive} from {url}"), sidecar="required",
                             label="archive").path
    report.progress(phase="extracting", done=0, total=1, message=f"extracting {archive}")
    try:
        archives.extract(path, staging, _progress("extracting", f"extracting {archive}"))
    except archives.ArchiveError as exc:
        raise Failed(f"the archive {archive} from {url} cannot be used: {exc}") from None
    name = archive.split(".")[0]
    if not os.path.isdir(os.path.join(staging, name)):
        raise Failed(f"the archive {archive} from {url} must hold a folder {name}/ with {name}_params.json and "
                     f"the dataset; it holds {sorted(os.listdir(staging))[:5]}")
    return name


def _generated(prj_type: str, staging: str) -> str:
    """Build the type's generated demo in `staging`; return its name."""
    name = RECIPES[prj_type].name
    report.progress(phase="generating", done=0, total=1, message=f"generating the {prj_type} demo data")
    build(prj_type, os.path.join(staging, name))
    _check_stop()
    report.progress(phase="generating", done=1, total=1, message=f"generating the {prj_type} demo data")
    return name


def _check(prj_type: str, folder: str, name: str) -> dict[str, int]:
    """Read the params file and check the dataset with its type's reader; return its counts."""
    try:
        read_params(folder, name, prj_type)
        scan = READERS[prj_type](folder, _progress("checking", f"checking the {prj_type} demo data"))
    except (DemoFileError, DatasetError) as exc:
        raise Failed(f"the {prj_type} demo is not usable: {exc}") from None
    details = scan.details()
    return {"train_num": len(details["train_files"]), "num_classes": len(scan.labels)}


def _install(staging: str, folder: str, name: str) -> None:
    """Move the checked demo into place, replacing an older copy."""
    _check_stop()
    report.progress(phase="finishing", done=0, total=1, message="moving the demo into place")
    final, old = os.path.join(folder, name), os.path.join(staging, ".old")
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(os.path.join(staging, name), final)


def prepare(params: dict[str, Any], staging: str) -> dict[str, Any]:
    """Fetch or generate, check and install the demo; return the `done` record."""
    prj_type, note, source = params["prj_type"], "", "generated"
    name = ""
    if params.get("mirror"):
        try:
            name, source = _from_mirror(params, staging), "mirror"
            note = f"fetched {params['archive']} from {params['mirror']}"
        except download.Unavailable as exc:
            note = f"built from the generators: the mirror could not serve {params['archive']} ({exc})"
            report.log(note, "warning")
            shutil.rmtree(staging, ignore_errors=True)
            os.makedirs(staging)
        except download.DownloadError as exc:
            raise Failed(str(exc)) from None
    if not name:
        name = _generated(prj_type, staging)
        note = note or "built from the generators (no mirror is set)"
    counts = _check(prj_type, os.path.join(staging, name), name)
    _install(staging, params["folder"], name)
    return {"ok": True, "name": name, "source": source, "note": note, **counts}


def run(params: dict[str, Any]) -> int:
    """Prepare the demo; exit 0 on success, 1 on failure or stop."""
    signal.signal(signal.SIGTERM, _stop)
    staging = os.path.join(params["folder"], STAGING)
    try:
        shutil.rmtree(staging, ignore_errors=True)  # what a killed job left
        os.makedirs(staging)
        report.done(**prepare(params, staging))
        return 0
    except Stopped:
        report.done(ok=False, stopped=True, message="the preparation was stopped (PUT /demo); nothing was "
                    "installed (a partial download is kept and resumed by the next download)")
    except Failed as exc:
        report.done(ok=False, message=str(exc))
    except OSError as exc:
        report.done(ok=False, message=f"the demo could not be written under {params['folder']}: {exc}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        shutil.rmtree(staging, ignore_errors=True)
    return 1
