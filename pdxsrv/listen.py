"""The serve port: bound before anything else is created, listened on once the server is ready.

`reserve` binds (without listening) every address `host` resolves to, so a port in use is found
before a workspace is created or a supervisor started, and no client connects before the API can
answer; `listen` then starts listening on the reserved sockets.
"""

from __future__ import annotations

import errno
import socket

BACKLOG = 128


class PortInUse(OSError):
    """The serve port is taken."""


def reserve(host: str, port: int) -> list[socket.socket]:
    """Bound, not yet listening sockets for `host`:`port` (port 0: one free port for all of them)."""
    infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[tuple] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen or (family == socket.AF_INET6 and not socket.has_ipv6):
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:  # the same free port on every address
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse(f"port {port} on {host} is in use ({exc.strerror}): choose another "
                                    "with --port") from None
                raise OSError(f"cannot listen on {host} port {port} ({exc.strerror})") from None
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def listen(sockets: list[socket.socket]) -> None:
    """Start listening on reserved sockets."""
    for sock in sockets:
        sock.listen(BACKLOG)
