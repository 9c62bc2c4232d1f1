"""Domain errors that only the API raises."""

from __future__ import annotations

from pdxsrv.domain.errors import DomainError, NotFound


class NotStarted(NotFound):
    """Asked for the state of a job that never ran for this task."""

    code = "not_started"


class NotAvailable(DomainError):
    """The request is valid, but the part of pdxsrv that does the work is not built yet; nothing changed."""

    code = "not_available"
