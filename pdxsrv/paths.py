"""Path confinement: every path a client names must resolve inside the workspace or an allowed root."""

from __future__ import annotations

import os

from pdxsrv.domain.errors import DomainError


class PathRefused(DomainError):
    """A client-named path lies outside every directory the operator allowed."""

    code = "path_not_allowed"


def inside(real: str, roots: tuple[str, ...]) -> bool:
    """Whether the real path `real` is one of `roots` or lies under one (whole components)."""
    return any(real == root or os.path.commonpath([real, root]) == root for root in roots)


def confine(path: str, roots: tuple[str, ...], argument: str = "path") -> str:
    """Return the real path of `path` if it lies inside one of `roots` (real paths); else PathRefused.

    Symbolic links and `..` are resolved first, and the test is on whole path components, so
    `/ws2` is not inside `/ws`.
    """
    if not isinstance(path, str) or not path or "\0" in path:
        raise PathRefused(f"{argument} must be a non-empty path, got {path!r}")
    real = os.path.realpath(os.path.expanduser(path))
    if inside(real, roots):
        return real
    allowed = ", ".join(roots)
    raise PathRefused(
        f"{argument} {path!r} is outside the directories this server may use ({allowed}); "
        "ask the operator to start pdxsrv with --allow-path for it"
    )
