"""Fetch a demo archive from a mirror: streamed, resumable, checked against the SHA-256 the mirror publishes.

Convention: a mirror at URL serves `URL/<archive>` and `URL/<archive>.sha256`; the second holds the archive's
SHA-256 as 64 hex digits, optionally followed by whitespace and a file name (what `sha256sum` prints).
Files in the download folder:

    <archive>.part   the bytes received so far; a later fetch resumes it with `Range: bytes=<size>-`
                     (206: append; 200: the server ignored the range, start over; 416: already whole)
    <archive>        the archive, renamed from .part once its digest matched

`Unavailable` (nothing can be fetched: connection refused, timeout, DNS, any HTTP error status, before
the first byte of the archive) lets the caller fall back. A digest mismatch after a resumed download is
retried once from the start; otherwise it is `MirrorError`, and the .part is deleted. A transfer that
breaks after it began is retried (resuming) up to ATTEMPTS times, then it is `MirrorError` and the .part
is kept for the next fetch to resume. Standard library only (urllib).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from typing import Any, Callable

ATTEMPTS = 3
CHUNK = 1 << 16
TIMEOUT = 15.0
_DIGEST = re.compile(r"^([0-9a-fA-F]{64})(?:\s|$)")

Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0 when unknown), called per 64 KiB


class Unavailable(Exception):
    """The mirror cannot serve the archive at all (the caller may fall back)."""


class MirrorError(Exception):
    """The mirror served something unusable, or the transfer broke: a failure the user must see."""


def join(base: str, name: str) -> str:
    """`base/name` with exactly one slash between."""
    return base.rstrip("/") + "/" + name


def _open(url: str, headers: dict[str, str], timeout: float) -> Any:
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def published_digest(base: str, archive: str, timeout: float = TIMEOUT) -> str:
    """The SHA-256 the mirror publishes for `archive` (lower-case hex)."""
    url = join(base, archive + ".sha256")
    try:
        with _open(url, {}, timeout) as resp:
            text = resp.read(4096).decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        raise Unavailable(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unavailable(f"{url} cannot be reached ({getattr(exc, 'reason', exc)})") from None
    match = _DIGEST.match(text)
    if not match:
        raise MirrorError(f"{url} does not hold a SHA-256 (64 hex digits, as sha256sum prints): {text[:80]!r}")
    return match.group(1).lower()


def _hash_of(path: str) -> Any:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest


def _transfer(url: str, part: str, progress: Progress, timeout: float) -> Any:
    """Append the rest of the archive to `part` (resuming from its size); return the digest of the whole."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        resp = _open(url, headers, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after what we have: the part is whole
            return _hash_of(part)
        raise Unavailable(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unavailable(f"{url} cannot be reached ({getattr(exc, 'reason', exc)})") from None
    with resp:
        resumed = resp.status == 206
        digest = _hash_of(part) if resumed else hashlib.sha256()
        done = have if resumed else 0
        length = resp.headers.get("Content-Length")
        total = done + int(length) if length and length.isdigit() else 0
        with open(part, "ab" if resumed else "wb") as out:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if total and done < total:
            raise ConnectionError(f"the transfer ended after {done} of {total} bytes")
        progress(done, total or done)
    return digest


def fetch(base: str, archive: str, folder: str, progress: Progress, timeout: float = TIMEOUT) -> str:
    """Download `base/archive` into `folder`, resuming a `.part` there, verify it; return the archive's path."""
    expected = published_digest(base, archive, timeout)
    url, part, final = join(base, archive), os.path.join(folder, archive + ".part"), os.path.join(folder, archive)
    if os.path.isfile(final) and _hash_of(final).hexdigest() == expected:
        progress(os.path.getsize(final), os.path.getsize(final))
        return final
    started = os.path.exists(part) and os.path.getsize(part) > 0
    restarted = False
    attempt = 0
    while True:
        attempt += 1
        resumed = os.path.exists(part) and os.path.getsize(part) > 0
        try:
            digest = _transfer(url, part, progress, timeout)
        except Unavailable:
            if started or attempt > 1:
                if attempt < ATTEMPTS:
                    time.sleep(attempt)
                    continue
                raise MirrorError(f"the download of {url} broke off and could not be resumed; the partial file "
                                  f"{part} is kept: download again to resume") from None
            raise
        except (OSError, http.client.HTTPException) as exc:  # broke off during the transfer
            started = True
            if attempt < ATTEMPTS:
                time.sleep(attempt)
                continue
            raise MirrorError(f"the download of {url} broke off {attempt} times ({exc}); the partial file {part} "
                              "is kept: download again to resume") from None
        started = True
        got = digest.hexdigest()
        if got == expected:
            os.replace(part, final)
            return final
        os.remove(part)
        if resumed and not restarted:  # the part may have been of an older archive: once more from the start
            restarted = True
            continue
        raise MirrorError(f"the archive from {url} does not match the SHA-256 the mirror publishes "
                          f"(expected {expected}, got {got}); the download was deleted")
