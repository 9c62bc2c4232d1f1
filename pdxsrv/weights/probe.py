"""Whether a weights source can be reached now: one TCP connection to its host, remembered for REMEMBER seconds.

Used only to choose a recommendation (fine-tune when the weights can be had, else from scratch); a
download itself reports its own failure. Blocking: call it off the event loop.
"""

from __future__ import annotations

import socket
import time
import urllib.parse

REMEMBER = 600.0
TIMEOUT = 2.0
_seen: dict[tuple[str, int], tuple[float, bool]] = {}


def reachable(url: str) -> bool:
    """Whether a TCP connection to `url`'s host and port opens within TIMEOUT seconds (remembered a while)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return False
    address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    seen = _seen.get(address)
    if seen is not None and time.monotonic() - seen[0] < REMEMBER:
        return seen[1]
    try:
        socket.create_connection(address, timeout=TIMEOUT).close()
        ok = True
    except OSError:
        ok = False
    _seen[address] = (time.monotonic(), ok)
    return ok
