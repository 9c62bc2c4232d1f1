"""Typed domain errors: each carries a stable `code` and a message that says what to do."""

from __future__ import annotations


class DomainError(Exception):
    """A command refused: nothing was changed."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The named object does not exist."""

    code = "not_found"


class InvalidArgument(DomainError):
    """An argument has a value the command cannot accept."""

    code = "invalid_argument"


class Conflict(DomainError):
    """The command is valid but the workspace's current state forbids it."""

    code = "conflict"
