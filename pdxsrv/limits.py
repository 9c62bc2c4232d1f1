"""Input limits, in one place: what a request (and a job's report) may hold, and how it is refused.

A request (`pdxsrv.api.oversize` enforces the first four before the body is read; `check` the rest,
on the JSON body, on every query-string value and on every JSON text an argument holds)::

    limit                      value                      refused with
    request line (URL)         MAX_URL_BYTES   64 KiB     HTTP 414, code too_large
    header block               MAX_HEADER_BYTES 64 KiB    HTTP 431, code too_large
    read at all (line+headers) READ_HEADER_BYTES 1 MiB    connection closed (Tornado cannot answer)
    body                       MAX_BODY_BYTES  64 MiB     HTTP 413, code too_large
    nesting (objects, lists)   MAX_DEPTH       32         code limit_exceeded
    keys of one object         MAX_KEYS        1,000      code limit_exceeded
    items of one list          MAX_ITEMS       10,000     code limit_exceeded (img_list: 100,000)
    a key                      MAX_KEY_CHARS   200        code limit_exceeded
    a string                   MAX_TEXT_CHARS  1,000      code limit_exceeded (longer ones: TEXT_CHARS)
    an integer                 -2**63 .. 2**64-1          code limit_exceeded (what the log can store)
    a float                    finite                     code invalid_argument (NaN, Infinity, 1e400)

Why these values: datasets are imported by path, so the largest legitimate body is a predict's
`image_data` (a base64 image: 64 MiB of it is a 48 MB image); names and descriptions are shown in
lists, so 1,000 characters each; paths may be PATH_MAX (4,096) long; a JSON text held in a string
argument (`train`, `attr_dict`, `eval_results`) is read with the same limits as the body. Refusals
name the key path (`train.learning_rate`, `img_list[3]`), the limit, and what to do. Bodies up to
DRAIN_BYTES are read and discarded before the 413 is sent, so that clients that send the whole
body before reading (urllib, requests) see the answer; a larger one (or one sent with `Expect:
100-continue`) is answered at once and its connection closed.

The 413/414/431 answers are always those HTTP statuses (like 404 and 405: the request was not
read); the others follow the application-error convention (HTTP 200 unless `honest_status`).

A job's report (what the supervisor relays into the log) is never refused, since a refused
journal record would leave a gap forever: `sanitize` stores non-finite floats as null, cuts strings
longer than REPORT_TEXT_CHARS and lists longer than MAX_ITEMS, and replaces what is nested deeper
than MAX_DEPTH by null; each change is noted in the record's data under `sanitized` (key path →
what was there, e.g. `{"metrics.loss": "NaN"}`).

Everything pdxsrv prints as JSON goes through `json_text` (allow_nan=False; a non-finite float
stored before these checks existed is printed as null).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pdxsrv.domain.errors import DomainError, InvalidArgument

MAX_URL_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
READ_HEADER_BYTES = 1024 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
DRAIN_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 32
MAX_KEYS = 1_000
MAX_ITEMS = 10_000
MAX_KEY_CHARS = 200
MAX_TEXT_CHARS = 1_000
PATH_CHARS = 4_096
JSON_TEXT_CHARS = 256 * 1024
REPORT_TEXT_CHARS = 64 * 1024
INT_RANGE = (-(2**63), 2**64 - 1)

# Strings allowed to be longer than MAX_TEXT_CHARS, by the name of the key (or list) that holds them.
TEXT_CHARS: dict[str, int] = {
    "image_data": MAX_BODY_BYTES,
    "path": PATH_CHARS, "source_path": PATH_CHARS, "save_dir": PATH_CHARS, "model_path": PATH_CHARS,
    "img_list": PATH_CHARS, "pretrain_weights": PATH_CHARS,
    "train": JSON_TEXT_CHARS, "attr_dict": JSON_TEXT_CHARS, "eval_results": JSON_TEXT_CHARS,
}
ITEMS: dict[str, int] = {"img_list": 100_000}


class LimitExceeded(DomainError):
    """A request holds more than a limit allows (nothing was changed)."""

    code = "limit_exceeded"
    http_status: int | None = None  # set: always answered with this HTTP status (the transport limits)

    def __init__(self, message: str, *, http_status: int | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        if http_status is not None:
            self.http_status = http_status


class NotFinite(InvalidArgument):
    """A number is NaN or infinite (JSON has neither)."""


TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{},]')  # JSON strings (keys: with their colon), brackets, commas


def show_path(path: str) -> str:
    """`path` for a message ("the request body" when empty; a very long one cut)."""
    if not path:
        return "the request body"
    return f"`{path}`" if len(path) <= 120 else f"`{path[:120]}…`"


def _too_deep(path: str) -> LimitExceeded:
    named = re.sub(r"(\[\d+\])+$", "", path)  # name the key that holds the deep lists
    return LimitExceeded(f"{show_path(named)} is nested deeper than {MAX_DEPTH} levels (objects and lists); "
                         "send flatter data")


def _deep_path(text: str) -> str:
    """The key path of the first object or list nested deeper than MAX_DEPTH in JSON `text` (only when it is)."""
    stack: list[list[Any]] = []
    for match in TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{", "["):
            if len(stack) >= MAX_DEPTH:
                break
            stack.append([token, None if token == "{" else 0])
        elif token in ("}", "]"):
            if stack:
                stack.pop()
        elif token == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        elif match.group(1) and stack:
            try:
                stack[-1][1] = json.loads(token[: match.start(1) - match.start()])
            except ValueError:
                stack[-1][1] = "?"
    path = ""
    for _, key in stack:
        if key is not None:
            path = _join(path, key)
    return path


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _owner(path: str, key: str | int | None) -> str:
    """The name whose limits apply: the key itself, or the list's key for its items."""
    if isinstance(key, str):
        return key
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def decode_json(text: str | bytes, where: str = "") -> Any:
    """Parse JSON text and `check` it; ValueError if it is not JSON (NaN, Infinity and 1e400 are refused by key path)."""
    try:
        value = json.loads(text, parse_constant=float)
    except RecursionError:
        inner = _deep_path(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        raise _too_deep(where + inner if inner.startswith("[") else ".".join(p for p in (where, inner) if p)) from None
    check(value, where)
    return value


def check(value: Any, path: str = "", key: str | int | None = None, depth: int = 0) -> None:
    """Refuse (LimitExceeded, NotFinite) a decoded JSON value that breaks a limit, naming its key path."""
    if isinstance(value, str):
        limit = TEXT_CHARS.get(_owner(path, key), MAX_TEXT_CHARS)
        if len(value) > limit:
            raise LimitExceeded(f"{show_path(path)} is {len(value):,} characters long; the limit is {limit:,}: "
                                "send a shorter value")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise LimitExceeded(f"{show_path(path)} is an integer of {len(str(abs(value))):,} digits; integers "
                                f"must lie in {INT_RANGE[0]}..{INT_RANGE[1]}: send a smaller number")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NotFinite(f"{show_path(path)} is {_word(value)}, which is not a number JSON can hold "
                            "(1e400 overflows to Infinity): send a finite number")
    elif isinstance(value, (dict, list)):
        if depth + 1 > MAX_DEPTH:
            raise _too_deep(path)
        if isinstance(value, dict):
            if len(value) > MAX_KEYS:
                raise LimitExceeded(f"{show_path(path)} has {len(value):,} keys; the limit is {MAX_KEYS:,}")
            for k, v in value.items():
                if len(k) > MAX_KEY_CHARS:
                    raise LimitExceeded(f"a key of {show_path(path)} is {len(k):,} characters long; the limit is "
                                        f"{MAX_KEY_CHARS}")
                check(v, _join(path, k), k, depth + 1)
        else:
            limit = ITEMS.get(_owner(path, key), MAX_ITEMS)
            if len(value) > limit:
                raise LimitExceeded(f"{show_path(path)} has {len(value):,} items; the limit is {limit:,}: "
                                    "send fewer")
            for i, v in enumerate(value):
                check(v, _join(path, i), i, depth + 1)


def _word(number: float) -> str:
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def finite_only(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (for printing data stored before the checks)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_only(v) for v in value]
    return value


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps` that never prints NaN or Infinity (they become null), UTF-8 as is."""
    options.setdefault("ensure_ascii", False)
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite_only(value), allow_nan=False, **options)


def sanitize(data: Any) -> Any:
    """A job's report made storable (see the module docstring); changes noted under `sanitized`."""
    notes: dict[str, str] = {}
    clean = _sanitize(data, "", None, 0, notes)
    if notes and isinstance(clean, dict):
        clean["sanitized"] = notes
    elif notes:
        clean = {"value": clean, "sanitized": notes}
    return clean


def _sanitize(value: Any, path: str, key: str | int | None, depth: int, notes: dict[str, str]) -> Any:
    where = path or "data"
    if isinstance(value, float) and not math.isfinite(value):
        notes[where] = _word(value)
        return None
    if isinstance(value, str) and len(value) > REPORT_TEXT_CHARS:
        notes[where] = f"{len(value):,} characters, cut to {REPORT_TEXT_CHARS:,}"
        return value[:REPORT_TEXT_CHARS]
    if isinstance(value, (dict, list, tuple)):
        if depth + 1 > MAX_DEPTH:
            notes[where] = f"nested deeper than {MAX_DEPTH} levels, dropped"
            return None
        if isinstance(value, dict):
            return {k: _sanitize(v, _join(path, str(k)), str(k), depth + 1, notes) for k, v in value.items()}
        if len(value) > MAX_ITEMS:
            notes[where] = f"{len(value):,} items, cut to {MAX_ITEMS:,}"
            value = value[:MAX_ITEMS]
        return [_sanitize(v, _join(path, i), i, depth + 1, notes) for i, v in enumerate(value)]
    return value
