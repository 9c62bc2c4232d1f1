"""One schema for a task's training parameters (`train`), per project type: check, complete, show, document.

The keys are `pdxsrv.domain.train_keys.KEYS[project_type]`; values are read by
`pdxsrv.domain.train_values` (strings coerced to the declared kind and stored coerced).
* `check(type, params)`: every key known, every value of its kind and in its range, `backbone`
  one the model can be trained with. A refusal is `InvalidArgument` naming the key, the value and
  what is allowed; an unknown key gets the closest known one ("did you mean 'num_epochs'?"), a key
  of another project type says whose it is. Ignored keys (`use_gpu`, `cpu_num`, ...) take any value.
* `complete(type, given, recommended)` (POST /project/task): the recommended values overridden by
  the given ones. When `model` is given and differs from the recommended one, the recommended
  values stay the base (they are that model's numbers), but a recommended `backbone` the given
  model cannot use is dropped (the model's default applies).
* `merge(type, stored, given)` (POST /project/task/params): the stored values overridden by the
  given ones, with the same backbone rule; stored keys the schema does not know (from before it
  existed; nothing read them) are dropped.
* `trainable(type, stored)` (before a training job starts or resumes): the stored values the
  schema knows, checked.
* `effective(type, stored)` (GET /project/task/params {tid}): the fallback defaults (what the
  engine does without the key) under the stored values; an empty `backbone` shows the default.
* `json_schema(type)`: the JSON Schema of `train` for /openapi.json.
"""

from __future__ import annotations

import copy
import difflib
import json
from typing import Any, Mapping

from pdxsrv.domain.errors import InvalidArgument
from pdxsrv.domain.params import ALIASES, DEFAULT_MODEL, MIN_SIDE, MODELS
from pdxsrv.domain.train_keys import BACKBONE, KEYS, TYPES, Key, backbones
from pdxsrv.domain.train_values import BadValue, choice, describe, in_range, read
from pdxsrv.domain.train_schema_doc import document

__all__ = ["check", "complete", "merge", "trainable", "effective", "known", "json_schema", "keys", "model_named"]


def keys(project_type: str) -> dict[str, Key]:
    """The keys of `project_type` (InvalidArgument for an unknown type)."""
    try:
        return KEYS[project_type]
    except KeyError:
        raise InvalidArgument(f"project type {project_type!r} is not one of: {', '.join(TYPES)}") from None


def _show(value: Any) -> str:
    """A value as the client sent it, shortened."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def unknown(project_type: str, name: str) -> str:
    """The refusal of a key `project_type` does not have: whose key it is, or the closest known one."""
    owners = [t for t in TYPES if name in KEYS[t]]
    if owners:
        whose = " and ".join(filter(None, (", ".join(owners[:-1]), owners[-1])))
        return f"training parameter {name!r} is for {whose} projects, not {project_type}"
    close = difflib.get_close_matches(name, list(KEYS[project_type]), n=1)
    hint = (f"did you mean {close[0]!r}?" if close else
            f"GET /openapi.json lists the {project_type} parameters (components.schemas.TrainParams.{project_type})")
    return f"unknown training parameter {name!r}; {hint}"


def _value(project_type: str, key: Key, value: Any) -> Any:
    """`value` read as `key`'s kind and checked against its range, or InvalidArgument."""
    try:
        result = read(key, value)
    except BadValue as exc:
        if key.name == "model":
            raise InvalidArgument(f"model {_show(value)} cannot be trained in a {project_type} project; "
                                  f"supported models: {', '.join(MODELS[project_type])}") from None
        raise InvalidArgument(f"training parameter {key.name!r} must be {exc}, got {_show(value)}") from None
    if not in_range(key, result):
        raise InvalidArgument(f"training parameter {key.name!r} must be {describe(key)}, got {_show(value)}")
    return result


def _read_all(project_type: str, params: Any) -> dict[str, Any]:
    """Every key of `params` known and read (no check across keys)."""
    if not isinstance(params, Mapping):
        raise InvalidArgument(f"train must be a JSON object of training parameters, got {type(params).__name__}")
    table = keys(project_type)
    out = {}
    for name, value in params.items():
        if name not in table:
            raise InvalidArgument(unknown(project_type, name))
        out[name] = _value(project_type, table[name], value)
    return out


def _fit_backbone(project_type: str, params: dict[str, Any]) -> None:
    """Refuse a `backbone` the model cannot be trained with; spell an accepted one as the table does."""
    key = KEYS[project_type].get("backbone")
    if key is None or key.ignored or not params.get("backbone"):
        return
    model = params.get("model", DEFAULT_MODEL[project_type])
    allowed = backbones(project_type, model)
    found = {b.lower(): b for b in allowed}.get(params["backbone"].lower())
    if found is None:
        what = f"supported backbones: {', '.join(allowed)}" if allowed else f'{model} takes no backbone (send "")'
        raise InvalidArgument(f"backbone {params['backbone']!r} cannot be trained with {model}; {what}")
    params["backbone"] = found


def _fit_side(project_type: str, params: dict[str, Any]) -> None:
    """Refuse an `image_shape` smaller than the model trains at (params.MIN_SIDE)."""
    model, shape = params.get("model", DEFAULT_MODEL[project_type]), params.get("image_shape")
    least = MIN_SIDE.get(model)
    if least and shape and min(shape) < least:
        raise InvalidArgument(f"image_shape {shape} is too small for {model}: it needs at least {least} pixels a "
                              f"side (e.g. [{least}, {least}])")


def check(project_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A coerced copy of `params`, or InvalidArgument naming the key, the value and what is allowed."""
    out = _read_all(project_type, params)
    _fit_backbone(project_type, out)
    _fit_side(project_type, out)
    return out


def _rebase(project_type: str, base: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """`base` without a `backbone` that the given `model` (if it differs from the base's) cannot use."""
    base, model = dict(base), given.get("model")
    if model is None or model == base.get("model") or "backbone" in given:
        return base
    backbone = base.get("backbone")
    if isinstance(backbone, str) and backbone.lower() not in {b.lower() for b in backbones(project_type, model)}:
        base.pop("backbone")
    return base


def complete(project_type: str, given: Mapping[str, Any], recommended: Mapping[str, Any]) -> dict[str, Any]:
    """The recommended values overridden by the given ones, all checked."""
    given = _read_all(project_type, given)
    return check(project_type, {**_rebase(project_type, recommended, given), **given})


def merge(project_type: str, stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values (those the schema knows) overridden by the given ones, all checked."""
    given = _read_all(project_type, given)
    base = known(project_type, stored)
    return check(project_type, {**_rebase(project_type, base, given), **given})


def trainable(project_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A task's stored parameters checked before a job trains with them (start, resume): keys the schema does not
    know (stored before it existed; nothing reads them) are left out, a bad value is refused naming the key."""
    return check(project_type, known(project_type, params))


def known(project_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The items of `params` whose keys `project_type` has."""
    table = keys(project_type)
    return {k: v for k, v in params.items() if k in table}


def model_named(project_type: str, value: Any) -> str | None:
    """The table's name of the model `value` of `project_type` (any case, aliases mapped), or None."""
    try:
        return choice(value, KEYS[project_type]["model"].choices, ALIASES) if project_type in KEYS else None
    except BadValue:
        return None


def effective(project_type: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    """What a task trains with: the fallback defaults of its model's keys under the stored values."""
    table = KEYS.get(project_type)
    if table is None:
        return dict(stored)
    model = model_named(project_type, stored.get("model")) or DEFAULT_MODEL[project_type]
    out = {k.name: copy.deepcopy(k.default) for k in table.values()
           if not k.ignored and k.kind != BACKBONE and (not k.models or model in k.models)}
    out["model"] = model
    out.update(stored)
    allowed = backbones(project_type, model)
    if allowed and out.get("backbone") in (None, "", "NA"):
        out["backbone"] = allowed[0]
    return out


def json_schema(project_type: str) -> dict[str, Any]:
    """The JSON Schema of `train` for a `project_type` task (OpenAPI components)."""
    return document(project_type, keys(project_type))
