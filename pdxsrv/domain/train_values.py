"""Reading one training parameter's value into its key's kind (`pdxsrv.domain.train_keys`).

Clients send strings for numbers and switches (the web demo sends "0.5", "18", and its list fields
come as numbers): a string that reads as the declared kind is taken and stored as that kind.
* int: an integer, an integral float (4.0) or such a string ("4"); never a boolean.
* float: a finite number (an int stays an int) or a string of one ("0.5"); never a boolean.
* bool: true/false, 1/0, or "true"/"false"/"yes"/"no"/"on"/"off"/"1"/"0" (any case).
* lists: a JSON array, or a string holding one ("[224, 224]") or comma-separated ("224,224");
  `image_shape` may also be one number (a square).
* choice / model: the name in any case (models also by the aliases the original's clients send,
  e.g. "U-Net"), stored as spelled in the table.
* backbone: a name, or "", "NA" or null for the model's default (stored as "").
* weights: null, false, "" or "none" (stored as null); IMAGENET/COCO/CITYSCAPES in any case
  (stored upper case); any other string is a pretrained model id or a path, checked at training.
* devices: "0,1", "0, 1", 0 or [0, 1], stored as "0,1"; "" or null is the CPU.
* any: an ignored key, stored as sent.
A value that cannot be read raises `BadValue(what was expected)`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pdxsrv.domain.params import ALIASES
from pdxsrv.domain.train_keys import (ANY, BACKBONE, BOOL, BOOL_LIST, CHOICE, DEVICES, FLOAT, FLOAT_LIST, INT,
                                      INT_LIST, MODEL, WEIGHT_KEYWORDS, WEIGHTS, Key)

TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
NO_WEIGHTS = ("", "none", "null", "不使用预训练模型")  # the last: the web demo's "no pretrained model" option
DEFAULT_BACKBONE = ("", "na")


class BadValue(ValueError):
    """A value that is not of its key's kind; the message says what is expected."""


def whole(value: Any) -> int:
    """An integer from an int, an integral float or a string of one."""
    if isinstance(value, bool):
        raise BadValue("an integer")
    if isinstance(value, int):
        return value
    number = real(value, "an integer")
    if not number.is_integer():
        raise BadValue("a whole number")
    return int(number)


def real(value: Any, what: str = "a number") -> float:
    """A finite float from a number or a string of one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadValue(what)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise BadValue(what) from None
    if not math.isfinite(number):
        raise BadValue(f"{what} (finite)")
    return number


def number(value: Any) -> int | float:
    """A finite number: ints and floats as sent, strings read as floats."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return real(value)


def switch(value: Any) -> bool:
    """A boolean from true/false, 1/0 or a word for one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise BadValue("true or false")


def text_list(text: str) -> Any:
    """A list written as text: JSON ("[224, 224]", BadValue if malformed) or comma-separated ("224, 224")."""
    text = text.strip()
    if not text.startswith("["):
        return [part.strip() for part in text.split(",") if part.strip()]
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to be a list of values
        raise BadValue("a list") from None


def items(value: Any, key: Key) -> list[Any]:
    """The items of a list value: an array, a JSON array in a string, comma-separated text or one number."""
    if isinstance(value, str):
        value = text_list(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and key.name == "image_shape":
        value = [value, value]
    if not isinstance(value, list):
        raise BadValue("a list")
    return value


def choice(value: Any, choices: tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    """The table's spelling of `value` among `choices` (any case; aliases mapped)."""
    if not isinstance(value, str):
        raise BadValue("one of: " + ", ".join(choices))
    found = {c.lower(): c for c in choices}.get(value.strip().lower())
    if found is None:
        raise BadValue("one of: " + ", ".join(choices))
    return (aliases or {}).get(found, found)


def weights(value: Any) -> str | None:
    """null (from scratch), a keyword in upper case, or a pretrained model id or path as given."""
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        raise BadValue("null, IMAGENET, COCO, CITYSCAPES, a pretrained model id (PM0001) or a model directory")
    text = value.strip()
    if text.lower() in NO_WEIGHTS:
        return None
    return text.upper() if text.upper() in WEIGHT_KEYWORDS else text


def devices(value: Any) -> str:
    """GPU indices as "0,1" ("" for the CPU)."""
    expected = 'GPU numbers such as "0" or "0,1" ("" for the CPU)'
    if value is None:
        return ""
    if isinstance(value, list):
        parts = value
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        parts = [part for part in str(value).split(",") if part.strip()]
    else:
        raise BadValue(expected)
    try:
        gpus = [whole(part) for part in parts]
    except BadValue:
        raise BadValue(expected) from None
    if any(g < 0 for g in gpus):
        raise BadValue(expected)
    return ",".join(str(g) for g in gpus)


def backbone(value: Any) -> str:
    """A backbone name, or "" for the model's default (from "", "NA" or null)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue('a backbone name ("" or "NA" for the default)')
    text = value.strip()
    return "" if text.lower() in DEFAULT_BACKBONE else text


ITEM = {INT_LIST: whole, FLOAT_LIST: number, BOOL_LIST: switch}
SCALAR = {INT: whole, FLOAT: number, BOOL: switch, WEIGHTS: weights, DEVICES: devices, BACKBONE: backbone}


def read(key: Key, value: Any) -> Any:
    """`value` as `key`'s kind (BadValue if it cannot be read); ranges are checked by `in_range`."""
    if key.kind == ANY:
        return value
    if value is None:
        if key.kind in (DEVICES, BACKBONE):
            return SCALAR[key.kind](value)
        if key.nullable or key.kind == WEIGHTS:
            return None
        raise BadValue(describe(key))
    if key.kind == MODEL:
        return choice(value, key.choices, ALIASES)
    if key.kind == CHOICE:
        return choice(value, key.choices)
    if key.kind in ITEM:
        return [ITEM[key.kind](v) for v in items(value, key)]
    return SCALAR[key.kind](value)


def _text(bound: float) -> str:
    """A bound as written: 4294967295, 0.1."""
    return str(int(bound)) if float(bound).is_integer() else repr(bound)


def describe(key: Key) -> str:
    """What `key` takes, in words: "an integer from 1 to 100000", "a number greater than 0 and less than 10"."""
    if key.choices:
        return "one of: " + ", ".join(key.choices)
    what = {INT: "an integer", FLOAT: "a number", BOOL: "true or false", INT_LIST: "a list of integers",
            FLOAT_LIST: "a list of numbers", BOOL_LIST: "a list of true/false"}.get(key.kind, "a value")
    low = None if key.low is None else f"{'greater than' if key.open_low else 'at least'} {_text(key.low)}"
    high = None if key.high is None else f"{'less than' if key.open_high else 'at most'} {_text(key.high)}"
    if low and high and not (key.open_low or key.open_high):
        low, high = f"from {_text(key.low)} to {_text(key.high)}", None
    bounds = " and ".join(b for b in (low, high) if b)
    if bounds:
        what += (" each " if key.kind in ITEM else " ") + bounds
    if key.size is not None:
        fewest, most = key.size
        what += f" ({fewest} item{'s' if fewest > 1 else ''})" if fewest == most else f" ({fewest} to {most} items)"
    return what


def in_range(key: Key, value: Any) -> bool:
    """Whether `value` (already read) lies within `key`'s range and size."""
    values = value if isinstance(value, list) else [value]
    if key.size is not None and not key.size[0] <= len(values) <= key.size[1]:
        return False
    for v in values:
        if v is None or isinstance(v, (bool, str)):
            continue
        if key.low is not None and (v < key.low or (key.open_low and v == key.low)):
            return False
        if key.high is not None and (v > key.high or (key.open_high and v == key.high)):
            return False
    return True
