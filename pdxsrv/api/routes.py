"""The route table: every route of the API, in one place."""

from __future__ import annotations

from typing import Any

from pdxsrv.api.workspace import WorkspaceHandler

ROUTES: list[tuple[str, type]] = [
    (r"/workspace", WorkspaceHandler),
]


def make_routes(store: Any) -> list[tuple[str, type, dict[str, Any]]]:
    """Routes bound to their dependencies."""
    return [(pattern, handler, {"store": store}) for pattern, handler in ROUTES]
