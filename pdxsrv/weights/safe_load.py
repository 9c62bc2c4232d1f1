"""Loading `.pdparams` / `.pdopt` files without running code from them: a restricted unpickler.

`paddle.save` of a state dict (paddle 2.0 to 3.3) is a pickle of a dict whose values are numpy
arrays, with two bookkeeping keys: `StructuredToParameterName@@` (structured name -> parameter
name) and, for arrays split to fit pickle protocols 2/3, `UnpackBigParamInfor@@`. An optimizer's
state adds `LR_Scheduler` (a dict of numbers) and `master_weights` (a dict of arrays). paddle 2.1
saved a tensor inside other objects as a tuple (name, array). The only globals such files name
are numpy's array machinery (`numpy.ndarray`, `numpy.dtype`, `numpy.core.multiarray._reconstruct`
and `scalar`, `numpy._core.*` on numpy 2), `collections.OrderedDict`, a few builtin containers, and
`_codecs.encode` (how Python 3 pickles bytes with protocol 2, as `fluid.save_dygraph` did). This
unpickler admits exactly those; any other global (`os.system`, `builtins.eval`, a paddle Layer,
paddle's own `eval`-based DenseTensor reduction) is refused before anything is called, naming it.

`load(path, roots)` also confines the file: it is opened once, and the real path of what was
opened (`/proc/self/fd`) must lie inside `roots`, so a symbolic link swapped in after a path was
checked is caught at use. The result is the state dict with numpy arrays as values (what
`Layer.set_state_dict` and `Optimizer.set_state_dict` take), bookkeeping keys removed.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

from pdxsrv.confined import opened_path
from pdxsrv.paths import PathRefused, inside

try:  # numpy 2 moved the array machinery to numpy._core; files written under either name load under both
    from numpy._core import multiarray as _multiarray  # type: ignore[attr-defined]
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray

NAMES = "StructuredToParameterName@@"
BIG = "UnpackBigParamInfor@@"
MAX_ERROR_NAME = 120


class UnsafeWeights(ValueError):
    """A weights file that is not plain arrays and containers, or that lies outside the allowed directories."""


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """`_codecs.encode` as protocol-2 pickles of bytes use it (latin-1 only; no other codec is reachable)."""
    if encoding not in ("latin1", "latin-1"):
        raise UnsafeWeights(f"_codecs.encode with codec {encoding!r}; weights files only use latin1")
    return text.encode("latin1")


ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): _latin1_encode,
    **{(module, name): getattr(_multiarray, name)
       for module in ("numpy.core.multiarray", "numpy._core.multiarray") for name in ("_reconstruct", "scalar")},
}


class _Unpickler(pickle.Unpickler):
    """Resolves only the globals in ALLOWED; no persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED.get((module, name))
        if found is None:
            wanted = f"{module}.{name}"[:MAX_ERROR_NAME]
            raise UnsafeWeights(f"it needs {wanted}, which a weights file never holds (only numpy arrays and plain "
                                "containers are loaded; nothing in the file was run)")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeWeights("it uses pickle persistent ids, which paddle's weights files never do")


def loads(data: bytes | BinaryIO, what: str = "the weights file") -> Any:
    """Unpickle `data` (bytes or a binary file) with the restricted unpickler; the state dict, cleaned up."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        obj = _Unpickler(stream, encoding="latin1").load()
    except UnsafeWeights as exc:
        raise UnsafeWeights(f"{what} was refused: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError, UnicodeDecodeError) as exc:
        raise UnsafeWeights(f"{what} is not a paddle weights file (a pickle of arrays): {exc}"[:400]) from None
    return _cleaned(obj)


def load(path: str, roots: tuple[str, ...] | None = None) -> Any:
    """The state dict in the `.pdparams`/`.pdopt` file `path`; UnsafeWeights if it needs more than arrays and
    containers, or (with `roots`) if the file really opened lies outside them."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if roots is not None:
            try:
                real = opened_path(fd, path)
            except PathRefused as exc:
                raise UnsafeWeights(str(exc)) from None
            if not inside(real, roots):
                raise UnsafeWeights(
                    f"the weights file {path} is really {real} (through a symbolic link), outside the directories "
                    f"this server may use ({', '.join(roots)}); it was not loaded")
        return loads(f, f"the weights file {path}")


def _cleaned(obj: Any) -> Any:
    """paddle.load's unpacking: split arrays joined, bookkeeping keys dropped, paddle 2.1 (name, array) tuples
    replaced by their arrays."""
    if not isinstance(obj, dict):
        return _array_of(obj)
    if isinstance(obj.get(BIG), dict):
        for key, info in obj[BIG].items():
            slices = [obj.pop(part) for part in info["slices"]]
            obj[key] = np.concatenate(slices).reshape(info["OriginShape"])
    obj.pop(BIG, None)
    obj.pop(NAMES, None)
    return {key: (_cleaned(value) if isinstance(value, dict) else _array_of(value)) for key, value in obj.items()}


def _array_of(value: Any) -> Any:
    """The array of a paddle 2.1 (name, array) tuple; anything else unchanged."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], np.ndarray):
        return value[1]
    return value
