"""Domain errors that only the API raises."""

from __future__ import annotations

from typing import Any

from pdxsrv.domain.errors import DomainError, NotFound


class NotStarted(NotFound):
    """Asked for the state of a job that never ran for this task."""

    code = "not_started"


class NotAvailable(DomainError):
    """The request is valid, but the part of pdxsrv that does the work is not built yet; nothing changed."""

    code = "not_available"


class JobFailed(DomainError):
    """The job asked about failed; `fields` (its status integer) go into the error body too."""

    code = "job_failed"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields
