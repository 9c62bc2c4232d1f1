"""/demo: demo projects (prepared from data that ships with pdxsrv; nothing is downloaded)."""

from __future__ import annotations

from pdxsrv.api.base import APIHandler
from pdxsrv.api.errors import NotAvailable
from pdxsrv.domain.enums import ProjectType
from pdxsrv.domain.errors import InvalidArgument


def project_type(value: object) -> ProjectType:
    """`prj_type` as the original took it: the ProjectType integer or its name."""
    try:
        if isinstance(value, str) and not value.strip().isdigit():
            return ProjectType[value]
        return ProjectType(int(value))  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError, OverflowError):
        names = ", ".join(f"{t.value} ({t.name})" for t in ProjectType)
        raise InvalidArgument(f"prj_type {value!r} is not a project type; use one of: {names}") from None


class DemoHandler(APIHandler):
    """GET preparation status; POST download (prepare) or load; PUT cancel."""

    async def get(self) -> None:
        project_type(self.args["prj_type"])
        raise NotAvailable("demo projects are not available in this build of pdxsrv yet")

    async def post(self) -> None:
        project_type(self.args["prj_type"])
        raise NotAvailable("demo projects are not available in this build of pdxsrv yet; nothing was changed")

    async def put(self) -> None:
        project_type(self.args["prj_type"])
        raise NotAvailable("demo projects are not available in this build of pdxsrv yet; nothing was changed")
