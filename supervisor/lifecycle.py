"""The supervisor's own lifecycle: serving -> draining -> closing, and when an idle one exits.

* ``serving``: the normal state.
* ``draining``: a ``shutdown`` with ``stop_jobs`` arrived: every job is being stopped, spawn is
  refused; once no job is active the supervisor goes on to ``closing``.
* ``closing``: the loop ends, the sockets (and their directory) are removed, the process exits.

`IdleWatch` decides when an idle supervisor (no queued or running job) should exit on its own:
at once when its state directory is gone (the workspace was deleted), or `idle_exit` seconds
after the last subscriber left its PUB socket (0 = never).
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("supervisor")

SERVING = "serving"
DRAINING = "draining"
CLOSING = "closing"

TRANSITIONS: dict[str, frozenset[str]] = {
    SERVING: frozenset({DRAINING, CLOSING}),
    DRAINING: frozenset({CLOSING}),
    CLOSING: frozenset(),
}


class IdleWatch:
    """Counts the PUB socket's subscribers and says when an idle supervisor should exit."""

    def __init__(self, state_dir: str, idle_exit: float) -> None:
        self.state_dir = state_dir
        self.idle_exit = idle_exit
        self.subscribers = 0
        self.idle_since: float | None = time.monotonic()

    def subscriber_joined(self) -> None:
        """A client connected to the PUB socket."""
        self.subscribers += 1

    def subscriber_left(self) -> None:
        """A client disconnected from the PUB socket."""
        self.subscribers = max(0, self.subscribers - 1)

    def reason_to_exit(self, busy: bool) -> str | None:
        """Why the supervisor should exit now (None: it should not); `busy`: a job is queued or running."""
        now = time.monotonic()
        if busy:
            self.idle_since = None
            return None
        if not os.path.isdir(self.state_dir):
            return f"its state directory {self.state_dir} is gone (the workspace was deleted)"
        if self.subscribers:
            self.idle_since = None
            return None
        if self.idle_since is None:
            self.idle_since = now
        if self.idle_exit > 0 and now - self.idle_since >= self.idle_exit:
            return f"idle with no client for {self.idle_exit:g} s"
        return None
