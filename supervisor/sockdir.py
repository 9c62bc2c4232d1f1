"""The private directory of a supervisor's ipc sockets: created 0700, checked, never trusted blindly.

Whoever can connect to the supervisor's ROUTER can make it run any command line, so the sockets
must live in a directory only their owner can enter. `private_dir` creates the directory with
mode 0700 (no symlinks followed) or checks an existing one: a real directory (not a symlink),
owned by this user, with no group or other permission bits. Anything else is refused with
`UnsafeSocketDir`, which names the directory; it is never chmod'ed or reused.
"""

from __future__ import annotations

import os
import stat

from supervisor import protocol


class UnsafeSocketDir(OSError):
    """The socket directory exists but is not private to this user."""


def socket_dir(endpoint: str) -> str | None:
    """The directory holding an ipc:// endpoint's socket files (None for tcp://)."""
    if not endpoint.startswith("ipc://"):
        return None
    return os.path.dirname(os.path.abspath(endpoint.removeprefix("ipc://")))


def check_private(path: str) -> None:
    """Raise UnsafeSocketDir unless `path` is a real directory of ours with mode 0700 (or stricter)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeSocketDir(f"the supervisor's socket directory {path} is not a directory (a symlink or a file): "
                              "refused; remove it and start again")
    problems = []
    if st.st_uid != os.getuid():
        problems.append(f"it belongs to uid {st.st_uid}, not to us (uid {os.getuid()})")
    if st.st_mode & 0o077:
        problems.append(f"its mode is {stat.S_IMODE(st.st_mode):04o}: group or others have access")
    if problems:
        raise UnsafeSocketDir(f"the supervisor's socket directory {path} is not private: {'; '.join(problems)}. "
                              "It is not used: anyone who can reach the socket can run commands. Remove it (or "
                              "set XDG_RUNTIME_DIR to a private directory) and start again")


def private_dir(path: str) -> str:
    """Create `path` with mode 0700 unless it exists; check it either way; return it."""
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # the umask may have taken some of the owner's bits
    except FileExistsError:
        pass
    check_private(path)
    return path


def private_endpoint(endpoint: str) -> str:
    """Make sure an ipc endpoint's directory is private (created if missing); tcp endpoints pass through."""
    directory = socket_dir(endpoint)
    if directory is not None:
        private_dir(directory)
    return endpoint


def remove_sockets(endpoint: str) -> None:
    """Remove an ipc endpoint's three socket files and, if then empty, their directory."""
    directory = socket_dir(endpoint)
    if directory is None:
        return
    for address in (protocol.router_endpoint(endpoint), protocol.pub_endpoint(endpoint),
                    protocol.push_endpoint(endpoint)):
        try:
            os.unlink(address.removeprefix("ipc://"))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass  # not empty (someone else's files) or already gone
