"""The job lifecycle: states, the allowed transitions, and how an exit is classified."""

from __future__ import annotations

QUEUED = "queued"
STARTING = "starting"
RUNNING = "running"
STOPPING = "stopping"
EXITED = "exited"
FAILED = "failed"
KILLED = "killed"
LOST = "lost"

TERMINAL = frozenset({EXITED, FAILED, KILLED, LOST})
ACTIVE = frozenset({STARTING, RUNNING, STOPPING})  # a process exists (or is being created)

TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({STARTING, KILLED}),
    STARTING: frozenset({RUNNING, FAILED, LOST}),
    RUNNING: frozenset({STOPPING, EXITED, FAILED, LOST}),
    STOPPING: frozenset({EXITED, FAILED, KILLED, LOST}),
    EXITED: frozenset(),
    FAILED: frozenset(),
    KILLED: frozenset(),
    LOST: frozenset(),
}


class InvalidTransition(Exception):
    """A state change the lifecycle does not allow."""

    def __init__(self, job: str, old: str, new: str) -> None:
        super().__init__(f"job {job}: cannot go from {old} to {new}")


def check_transition(job: str, old: str, new: str) -> None:
    """Raise InvalidTransition unless old -> new is allowed."""
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(job, old, new)


def exit_state(exit_code: int | None, signal: int | None, stop_requested: bool) -> str:
    """The terminal state of a process that ended with `exit_code` or `signal`."""
    if exit_code == 0:
        return EXITED
    if stop_requested and signal is not None:
        return KILLED
    return FAILED
