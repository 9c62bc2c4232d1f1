"""The supervisor's wire protocol: version, message table, error codes, reply builders, endpoints.

Sockets (the supervisor binds all three; ``endpoint`` is what ``--endpoint`` names)::

    <endpoint>        ROUTER  requests and replies
    <endpoint>.pub    PUB     job records, state changes, heartbeats
    <endpoint>.push   PULL    records pushed by the jobs themselves

For ``ipc://`` the three socket files are the given path and that path + ``.pub`` / ``.push``;
for ``tcp://host:port`` they are ports ``port``, ``port + 1`` and ``port + 2``.

Requests: a client's DEALER sends ONE frame, a msgpack map::

    {"id": str, "op": str, "args": map, "v": VERSION}

The ROUTER receives ``[identity, payload]`` and replies ``[identity, payload]`` with::

    {"id": <same id>, "ok": true,  "result": ...}
    {"id": <same id>, "ok": false, "error": {"code": str, "message": str}}

Ops (all idempotent by job id, so a client may resend after a timeout)::

    ping        {}                                  -> {"version", "pid", "started"}
    spawn       {"job", "argv", "cwd", "env"?, "gpus"?, "grace"?}
                                                    -> job info (an existing job id: its info, nothing started)
    stop        {"job", "grace"?}                   -> job info (finished jobs: their info)
    status      {"job"}                             -> job info
    list        {}                                  -> [job info]
    replay_from {"job", "seq"}                      -> {"records": [record with seq >= seq], "info": job info}
    shutdown    {"stop_jobs"?, "grace"?}            -> {} or, with stop_jobs, {"stopping": [job id]}
                without stop_jobs the supervisor exits at once and its jobs keep running (the next
                supervisor re-adopts them); with stop_jobs it stops every queued and running job
                (SIGTERM, `grace` or the job's own grace, SIGKILL), then exits. Meanwhile spawn is
                refused with ``shutting_down``.

Error codes: ``bad_request``, ``unknown_op``, ``no_such_job``, ``version_mismatch``, ``shutting_down``,
``internal``.

Job info map: ``job, state, pid, pgid, gpus, cwd, argv, created, started, ended, exit_code, signal,
message, err_tail (list of str), last_seq`` (the last journal seq the supervisor has seen).

A record (journal entry) is a map ``{seq, ts, type, v, data}`` exactly as in the job's journal, an
``eventlog`` directory ``<cwd>/journal/``.

PUB frames are ``[topic, msgpack]``:

* topic ``b"job." + job_id``: ``{"kind": "journal", "job", "record"}`` or ``{"kind": "state", "job", "info"}``
* topic ``b"hb"``: ``{"time", "pid"}``, every HEARTBEAT_INTERVAL seconds, and HEARTBEAT_AFTER_JOIN
  seconds after a subscriber connects (its first message on a live stream comes soon).
* topic ``b"supervisor"``: ``{"kind": "supervisor", "state", "reason", "pid"}`` when the supervisor's own
  lifecycle changes (serving -> draining -> closing; see ``supervisor.lifecycle``).

The supervisor exits on its own when it is idle (no queued or running job) and either its state
directory is gone (the workspace was deleted) or no subscriber has been connected to its PUB
socket for ``--idle-exit`` seconds. On exit it removes its ipc socket files and their directory.

Jobs PUSH each journal record, right after appending it, as one frame ``{"job", "record"}``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgpack

VERSION = 1
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_AFTER_JOIN = 0.05  # seconds: time for the new subscriber's subscriptions to reach the PUB socket
DEFAULT_GRACE = 10.0

# op name -> (required arg names, optional arg names)
MESSAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ping": ((), ()),
    "spawn": (("job", "argv", "cwd"), ("env", "gpus", "grace")),
    "stop": (("job",), ("grace",)),
    "status": (("job",), ()),
    "list": ((), ()),
    "replay_from": (("job", "seq"), ()),
    "shutdown": ((), ("stop_jobs", "grace")),
}

BAD_REQUEST = "bad_request"
UNKNOWN_OP = "unknown_op"
NO_SUCH_JOB = "no_such_job"
VERSION_MISMATCH = "version_mismatch"
SHUTTING_DOWN = "shutting_down"
INTERNAL = "internal"
ERROR_CODES = (BAD_REQUEST, UNKNOWN_OP, NO_SUCH_JOB, VERSION_MISMATCH, SHUTTING_DOWN, INTERNAL)

JOB_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
HB_TOPIC = b"hb"
SUPERVISOR_TOPIC = b"supervisor"
DEFAULT_IDLE_EXIT = 600.0  # seconds an idle supervisor without subscribers waits before it exits


class ProtocolError(Exception):
    """An error that becomes an error reply with `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def pack(obj: Any) -> bytes:
    """Encode one message."""
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> Any:
    """Decode one message."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def request(op: str, args: dict[str, Any] | None = None, request_id: str | None = None) -> dict[str, Any]:
    """Build a request map."""
    return {"id": request_id or uuid.uuid4().hex, "op": op, "args": args or {}, "v": VERSION}


def ok_reply(request_id: Any, result: Any) -> dict[str, Any]:
    """Build a success reply."""
    return {"id": request_id, "ok": True, "result": result}


def error_reply(request_id: Any, code: str, message: str) -> dict[str, Any]:
    """Build an error reply."""
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


def job_topic(job: str) -> bytes:
    """The PUB topic of one job."""
    return b"job." + job.encode()


def _derive(endpoint: str, suffix: str, port_offset: int) -> str:
    if endpoint.startswith("tcp://"):
        host, _, port = endpoint[len("tcp://"):].rpartition(":")
        return f"tcp://{host}:{int(port) + port_offset}"
    return endpoint + suffix


def router_endpoint(endpoint: str) -> str:
    """Address of the ROUTER (requests)."""
    return endpoint


def pub_endpoint(endpoint: str) -> str:
    """Address of the PUB socket (records, states, heartbeats)."""
    return _derive(endpoint, ".pub", 1)


def push_endpoint(endpoint: str) -> str:
    """Address of the PULL socket that jobs PUSH their records to."""
    return _derive(endpoint, ".push", 2)
