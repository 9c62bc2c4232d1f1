"""The machine's weights cache: each table entry is downloaded once, verified, and kept.

Layout of the directory (`default_dir()`: `$XDG_CACHE_HOME/pdxsrv/weights`, else `~/.cache/pdxsrv/weights`):

    <file>               a placed weights file (`Entry.file`, e.g. ResNet18_IMAGENET.pdparams): only ever renamed
                         into place, so a file under this name is whole
    <file>.json          its record: {"url", "sha256", "size", "checked", "time"}; "checked" says what it was
                         verified against ("md5 <hex> published by PaddlePaddle", "sha256 <hex> from <url>.sha256",
                         or that nothing was published and the SHA-256 it had was recorded)
    <download>.part      a download in progress (`Entry.mirror_name`), resumed with a Range request by the next fetch
    <stem>.tar.gz        an archive entry's verified download, deleted once its model.pdparams is placed
    .locks/<file>.lock   flock'd (LOCK_EX) by whoever fetches <file>: concurrent fetches download it once

A file someone put at `<file>` by hand is adopted: checked against the table's checksum when there is one (a
mismatch is refused and the file left for its owner to replace), else recorded as it is.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from eventlog.segments import fsync_dir
from pdxsrv import download, system
from pdxsrv.download import Progress
from pdxsrv.weights.errors import ChecksumMismatch, WeightsUnavailable
from pdxsrv.weights.table import ENTRIES, Entry, lookup

ARCHIVE_MEMBER = "model.pdparams"


def default_dir() -> str:
    """The per-machine cache directory: $XDG_CACHE_HOME/pdxsrv/weights, else ~/.cache/pdxsrv/weights."""
    return os.path.join(system.cache_home(), "weights")


@dataclass(frozen=True)
class Fetched:
    """A placed weights file (usable as a path), where it came from, and what it was verified against."""

    path: str
    entry: Entry
    sha256: str
    checked: str
    downloaded: bool  # False: it was in the cache already

    def __fspath__(self) -> str:
        return self.path


@dataclass(frozen=True)
class Cached:
    """One table entry's state in the cache."""

    entry: Entry
    path: str
    cached: bool
    size: int | None
    checked: str


def _record_path(path: str) -> str:
    return path + ".json"


def _read_record(path: str) -> dict[str, Any] | None:
    try:
        with open(_record_path(path), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("size") == os.path.getsize(path) else None


def _write_record(path: str, url: str, sha256: str, checked: str) -> dict[str, Any]:
    record = {"url": url, "sha256": sha256, "size": os.path.getsize(path), "checked": checked, "time": time.time()}
    tmp = _record_path(path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, _record_path(path))
    fsync_dir(os.path.dirname(path))
    return record


def _fetched(entry: Entry, path: str, record: dict[str, Any], downloaded: bool) -> Fetched:
    return Fetched(path, entry, record["sha256"], record["checked"], downloaded)


def _digest_of(path: str, algorithm: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def _adopt(entry: Entry, path: str) -> Fetched:
    """A file found at `path` without a record (put there by hand): check what can be checked, record it."""
    if entry.checksum is not None and not entry.archive:
        got = _digest_of(path, entry.checksum.algorithm)
        if got != entry.checksum.hex:
            raise ChecksumMismatch(
                f"{path} is not the {entry.keyword} weights of {_name(entry)}: its {entry.checksum.algorithm} is "
                f"{got}, PaddlePaddle publishes {entry.checksum.hex} for {entry.url}; replace or remove the file",
                expected=entry.checksum.hex, got=got, path=path, mirror_name=entry.mirror_name, url=entry.url)
        checked = f"{entry.checksum} published by PaddlePaddle (found in the cache)"
    else:
        checked = "found in the cache; no published checksum, so its SHA-256 was recorded as it was"
    return _fetched(entry, path, _write_record(path, entry.url, _digest_of(path, "sha256"), checked), False)


def _name(entry: Entry) -> str:
    return f"{entry.model} on {entry.backbone}" if entry.backbone else entry.model


def _help(entry: Entry, path: str) -> str:
    """What the user can do when a file cannot be downloaded."""
    what = f"{ARCHIVE_MEMBER} from the archive {entry.url}" if entry.archive else f"the file from {entry.url}"
    return (f"Put {what} at {path} by hand, or serve {entry.mirror_name} (and optionally {entry.mirror_name}.sha256) "
            "from a mirror and pass --weights-mirror URL.")


@contextmanager
def _locked(directory: str, file: str) -> Iterator[None]:
    """Hold the per-file lock (released when the lock file is closed, also by a killed process)."""
    folder = os.path.join(directory, ".locks")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, file + ".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def _extract(archive: str, dest: str) -> None:
    """Place the archive's one model.pdparams at `dest` (nothing else is read or written); the archive is removed."""
    incoming = dest + ".incoming"
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and os.path.basename(m.name) == ARCHIVE_MEMBER]
            if len(members) != 1:
                raise download.DownloadError(f"the archive holds {len(members)} regular files named "
                                             f"{ARCHIVE_MEMBER}, not one")
            source = tar.extractfile(members[0])
            assert source is not None  # a regular member always has a file object
            with source, open(incoming, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
        os.replace(incoming, dest)
        fsync_dir(os.path.dirname(dest))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise download.DownloadError(f"the archive cannot be read as a .tar.gz ({exc})") from None
    finally:
        for leftover in (archive, incoming):  # a new fetch downloads the archive again
            if os.path.exists(leftover):
                os.remove(leftover)


def _download(entry: Entry, directory: str, mirror: str | None, progress: Progress | None) -> Fetched:
    """Download `entry` from the mirror or its official URL, verify it and place it."""
    path = os.path.join(directory, entry.file)
    url = download.join(mirror, entry.mirror_name) if mirror else entry.url
    sidecar = "optional" if mirror and entry.checksum is None else "never"
    why = f"cannot get the {entry.keyword} weights of {_name(entry)}"
    try:
        got = download.download(url, directory, entry.mirror_name, progress, expected=entry.checksum, sidecar=sidecar)
        if entry.archive:
            _extract(got.path, path)
    except download.DigestMismatch as exc:
        whose = "PaddlePaddle's published" if exc.expected == entry.checksum else "the mirror's"
        raise ChecksumMismatch(f"{why}: the file from {url} does not match {whose} {exc.expected.algorithm} "
                               f"(expected {exc.expected.hex}, got {exc.got}); nothing was placed. "
                               f"{_help(entry, path)}",
                               expected=exc.expected.hex, got=exc.got, path=path, mirror_name=entry.mirror_name,
                               url=url) from None
    except (download.Unavailable, download.DownloadError) as exc:
        raise WeightsUnavailable(f"{why}: {exc}. {_help(entry, path)}", path=path, mirror_name=entry.mirror_name,
                                 url=url) from None
    whose = "the archive's" if entry.archive else "its"
    if got.checked is None:
        checked = f"no published checksum; {whose} SHA-256 {got.sha256} was recorded on download"
    elif got.checked_by == "given":
        checked = f"{whose} {got.checked} published by PaddlePaddle"
    else:
        checked = f"{whose} {got.checked} from {got.checked_by}"
    sha256 = _digest_of(path, "sha256") if entry.archive else got.sha256
    return _fetched(entry, path, _write_record(path, url, sha256, checked), True)


def fetch(model: str, keyword: str, backbone: str | None = None, *, weights_dir: str, mirror: str | None = None,
          progress: Progress | None = None, offline: bool = False) -> Fetched:
    """The placed .pdparams of `model`/`keyword`/`backbone`, downloaded the first time; see the module docstring."""
    entry = lookup(model, keyword, backbone)
    path = os.path.join(weights_dir, entry.file)
    if os.path.isfile(path) and (record := _read_record(path)) is not None:
        return _fetched(entry, path, record, False)
    os.makedirs(weights_dir, exist_ok=True)
    with _locked(weights_dir, entry.file):
        if os.path.isfile(path):  # placed meanwhile by another fetch, or by hand
            record = _read_record(path)
            return _fetched(entry, path, record, False) if record is not None else _adopt(entry, path)
        if offline:
            raise WeightsUnavailable(f"the {entry.keyword} weights of {_name(entry)} are not in the cache and "
                                     f"pdxsrv runs --offline (it downloads nothing). {_help(entry, path)}",
                                     path=path, mirror_name=entry.mirror_name, url=entry.url)
        return _download(entry, weights_dir, mirror, progress)


def path_for(model: str, keyword: str, backbone: str | None = None, *, weights_dir: str) -> str:
    """Where the entry's file is, or is to be put (NoWeights when the table has none)."""
    return os.path.join(weights_dir, lookup(model, keyword, backbone).file)


def status(weights_dir: str) -> list[Cached]:
    """Every table entry: whether it is cached, its size and path, what it was verified against."""
    rows = []
    for entry in ENTRIES:
        path = os.path.join(weights_dir, entry.file)
        placed = os.path.isfile(path)
        record = _read_record(path) if placed else None
        checked = record["checked"] if record else ("not checked yet (put there by hand?)" if placed else "")
        rows.append(Cached(entry, path, placed, os.path.getsize(path) if placed else None, checked))
    return rows
