"""Download one file over HTTP(S): streamed, resumable, verified, placed atomically. Standard library only (urllib).

`download(url, folder, name, ...)` writes into `folder`:

    <name>.part   the bytes received so far; a later download resumes it with `Range: bytes=<size>-`
                  (206: append; 200: the server ignored the range, start over; 416: the part is already whole)
    <name>        the file, fsync'd and renamed (`os.replace`) from .part once it passed verification

Verification, first that applies: the `expected` digest the caller gives (md5 or sha256, hex); else, with
`sidecar` "required" or "optional", the SHA-256 published at `<url>.sha256` (64 hex digits, optionally
followed by whitespace and a file name: what `sha256sum` prints), fetched before the file; else none (the
result then says so: `Downloaded.checked` is None). The file's SHA-256 is always computed and returned.

Errors. `Unavailable`: nothing can be had at all, before the first byte of the file (connection refused,
timeout, DNS, any HTTP error status; or a required sidecar that cannot be fetched): a caller may fall back.
`DownloadError`: a failure the user must see. A transfer that breaks after it began is retried (resuming)
up to ATTEMPTS times, then it is a `DownloadError` and the .part is kept for the next download to resume.
`DigestMismatch` (a `DownloadError`): the .part is deleted; a *resumed* download that mismatches is first
retried once from zero, in case the part was of an older file. Progress: `progress(done, total)` per 64 KiB
(total 0 while unknown) and once at the end with done == total.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Literal

from eventlog.segments import fsync_dir

ATTEMPTS = 3
CHUNK = 1 << 16
TIMEOUT = 15.0
ALGORITHMS = {"md5": 32, "sha256": 64}  # algorithm -> hex digits
_SHA256SUM = re.compile(r"^([0-9a-fA-F]{64})(?:\s|$)")

Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0 while unknown)
Sidecar = Literal["never", "optional", "required"]


@dataclass(frozen=True)
class Digest:
    """A published checksum: algorithm ("md5" or "sha256") and lower-case hex digest."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        if len(self.hex) != ALGORITHMS.get(self.algorithm, -1) or not re.fullmatch(r"[0-9a-f]+", self.hex):
            raise ValueError(f"{self.algorithm} {self.hex!r} is not a digest: use md5 (32) or sha256 (64 lower-case "
                             "hex digits)")

    def __str__(self) -> str:
        return f"{self.algorithm} {self.hex}"


@dataclass(frozen=True)
class Downloaded:
    """A placed file, its SHA-256, and the digest it was checked against (None: nothing to check against)."""

    path: str
    sha256: str
    checked: Digest | None
    checked_by: str  # where `checked` came from: "given", the sidecar's URL, or "" when unchecked


class Unavailable(Exception):
    """Nothing can be had from this URL at all (the caller may fall back); `status` is the HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DownloadError(Exception):
    """The server sent something unusable, or the transfer broke: a failure the user must see."""


class DigestMismatch(DownloadError):
    """The downloaded bytes do not match the expected digest; the download was deleted."""

    def __init__(self, url: str, expected: Digest, got: str, checked_by: str, label: str) -> None:
        whose = "the SHA-256 the mirror publishes" if checked_by != "given" else f"the expected {expected.algorithm}"
        super().__init__(f"the {label} from {url} does not match {whose} (expected {expected.hex}, got {got}); the "
                         "download was deleted")
        self.url, self.expected, self.got = url, expected, got


def join(base: str, name: str) -> str:
    """`base/name` with exactly one slash between."""
    return base.rstrip("/") + "/" + name


def _open(url: str, headers: dict[str, str], timeout: float) -> Any:
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _unreachable(url: str, exc: BaseException) -> Unavailable:
    if isinstance(exc, urllib.error.HTTPError):
        return Unavailable(f"{url} answered HTTP {exc.code}", exc.code)
    return Unavailable(f"{url} cannot be reached ({getattr(exc, 'reason', exc)})")


def sidecar_digest(url: str, timeout: float = TIMEOUT) -> Digest:
    """The SHA-256 published at `<url>.sha256` (Unavailable when it cannot be fetched)."""
    side = url + ".sha256"
    try:
        with _open(side, {}, timeout) as resp:
            text = resp.read(4096).decode("utf-8", "replace").strip()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _unreachable(side, exc) from None
    match = _SHA256SUM.match(text)
    if not match:
        raise DownloadError(f"{side} does not hold a SHA-256 (64 hex digits, as sha256sum prints): {text[:80]!r}")
    return Digest("sha256", match.group(1).lower())


class _Hashes:
    """SHA-256, plus the expected digest's algorithm when that is another one."""

    def __init__(self, algorithm: str | None) -> None:
        self.sha256 = hashlib.sha256()
        self.other = hashlib.new(algorithm) if algorithm and algorithm != "sha256" else None

    def update(self, block: bytes) -> None:
        self.sha256.update(block)
        if self.other is not None:
            self.other.update(block)

    def hexdigest(self, algorithm: str) -> str:
        return (self.other if self.other is not None and algorithm != "sha256" else self.sha256).hexdigest()


def _hash_file(path: str, algorithm: str | None) -> _Hashes:
    hashes = _Hashes(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            hashes.update(block)
    return hashes


def _transfer(url: str, part: str, algorithm: str | None, progress: Progress, timeout: float) -> _Hashes:
    """Append the rest of the file to `part` (resuming from its size); return the hashes of the whole."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    try:
        resp = _open(url, {"Range": f"bytes={have}-"} if have else {}, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after what we have: the part is whole
            return _hash_file(part, algorithm)
        raise _unreachable(url, exc) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _unreachable(url, exc) from None
    with resp:
        resumed = resp.status == 206
        hashes = _hash_file(part, algorithm) if resumed else _Hashes(algorithm)
        done = have if resumed else 0
        length = resp.headers.get("Content-Length")
        total = done + int(length) if length and length.isdigit() else 0
        with open(part, "ab" if resumed else "wb") as out:
            while block := resp.read(CHUNK):
                out.write(block)
                hashes.update(block)
                done += len(block)
                progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if total and done < total:
            raise ConnectionError(f"the transfer ended after {done} of {total} bytes")
        progress(done, total or done)
    return hashes


def _expected(url: str, expected: Digest | None, sidecar: Sidecar, timeout: float) -> tuple[Digest | None, str]:
    """The digest to check against and where it came from."""
    if expected is not None:
        return expected, "given"
    if sidecar == "never":
        return None, ""
    try:
        return sidecar_digest(url, timeout), url + ".sha256"
    except Unavailable as exc:
        if sidecar == "required" or exc.status is None:  # optional: absent is fine, unreachable is not
            raise
    return None, ""


def download(url: str, folder: str, name: str, progress: Progress | None = None, *, expected: Digest | None = None,
             sidecar: Sidecar = "never", timeout: float = TIMEOUT, label: str = "file") -> Downloaded:
    """Download `url` to `folder/name` (resuming `name.part`), verify it, place it (`label`: what messages call it)."""
    report = progress or (lambda done, total: None)
    digest, checked_by = _expected(url, expected, sidecar, timeout)
    algorithm = digest.algorithm if digest else None
    part, final = os.path.join(folder, name + ".part"), os.path.join(folder, name)
    if digest is not None and os.path.isfile(final):
        hashes = _hash_file(final, algorithm)
        if hashes.hexdigest(digest.algorithm) == digest.hex:
            report(os.path.getsize(final), os.path.getsize(final))
            return Downloaded(final, hashes.sha256.hexdigest(), digest, checked_by)
    started = os.path.exists(part) and os.path.getsize(part) > 0
    restarted, attempt = False, 0
    while True:
        attempt += 1
        resumed = os.path.exists(part) and os.path.getsize(part) > 0
        try:
            hashes = _transfer(url, part, algorithm, report, timeout)
        except Unavailable:
            if not (started or attempt > 1):
                raise
            if attempt < ATTEMPTS:
                time.sleep(attempt)
                continue
            raise DownloadError(f"the download of {url} broke off and could not be resumed; the partial file {part} "
                                "is kept: download again to resume") from None
        except (OSError, http.client.HTTPException) as exc:  # broke off during the transfer
            started = True
            if attempt < ATTEMPTS:
                time.sleep(attempt)
                continue
            raise DownloadError(f"the download of {url} broke off {attempt} times ({exc}); the partial file {part} "
                                "is kept: download again to resume") from None
        started = True
        if digest is None or hashes.hexdigest(digest.algorithm) == digest.hex:
            os.replace(part, final)
            fsync_dir(folder)
            return Downloaded(final, hashes.sha256.hexdigest(), digest, checked_by)
        os.remove(part)
        if resumed and not restarted:  # the part may have been of an older file: once more from the start
            restarted = True
            continue
        raise DigestMismatch(url, digest, hashes.hexdigest(digest.algorithm), checked_by, label)
