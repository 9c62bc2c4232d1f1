"""Clients of the supervisor: blocking `Client` and asyncio `AsyncClient`, both Lazy Pirate.

Each request is sent on a DEALER; the client polls for the reply with `timeout`; on a timeout it
closes the socket with LINGER 0, opens a new one, and resends — at most `retries` times — then
raises SupervisorUnavailable. Replies whose id is not the request's are dropped. An error reply
raises SupervisorError(code, message). Ops are idempotent by job id, so resending is safe.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import zmq
import zmq.asyncio

from supervisor import protocol


class SupervisorError(Exception):
    """The supervisor answered with a protocol error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SupervisorUnavailable(Exception):
    """No reply after every retry: the supervisor is down or unreachable."""


def _spawn_args(job: str, argv: list[str], cwd: str, env: dict[str, str] | None, gpus: list[int] | None,
                grace: float | None) -> dict[str, Any]:
    args: dict[str, Any] = {"job": job, "argv": list(argv), "cwd": cwd, "env": env or {}, "gpus": list(gpus or [])}
    if grace is not None:
        args["grace"] = grace
    return args


def _shutdown_args(stop_jobs: bool, grace: float | None) -> dict[str, Any]:
    args: dict[str, Any] = {"stop_jobs": True} if stop_jobs else {}
    if stop_jobs and grace is not None:
        args["grace"] = grace
    return args


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    error = reply.get("error") or {}
    raise SupervisorError(str(error.get("code", protocol.INTERNAL)), str(error.get("message", "")))


def _matches(payload: bytes, request_id: str) -> dict[str, Any] | None:
    try:
        reply = protocol.unpack(payload)
    except (ValueError, TypeError):
        return None
    return reply if isinstance(reply, dict) and reply.get("id") == request_id else None


class Client:
    """Blocking client (one request at a time)."""

    def __init__(self, endpoint: str, timeout: float = 2.5, retries: int = 3, context: zmq.Context | None = None) -> None:
        self.endpoint = protocol.router_endpoint(endpoint)
        self.timeout = timeout
        self.retries = retries
        self.ctx = context or zmq.Context.instance()
        self.sock: zmq.Socket | None = None

    def _open(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        return sock

    def _drop_socket(self) -> None:
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def request(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """Send one request; return its result (raises SupervisorError / SupervisorUnavailable)."""
        message = protocol.request(op, args)
        payload = protocol.pack(message)
        for _ in range(self.retries + 1):
            if self.sock is None:
                self.sock = self._open()
            self.sock.send(payload)
            deadline = time.monotonic() + self.timeout
            while (left := deadline - time.monotonic()) > 0:
                if not self.sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                    break
                reply = _matches(self.sock.recv(), message["id"])
                if reply is not None:
                    return _result(reply)
            self._drop_socket()
        raise SupervisorUnavailable(f"no reply from {self.endpoint} to {op} after {self.retries + 1} tries")

    def close(self) -> None:
        """Close the socket."""
        self._drop_socket()

    def ping(self) -> dict[str, Any]:
        """Version, pid and start time of the supervisor."""
        return self.request("ping")

    def spawn(self, job: str, argv: list[str], cwd: str, env: dict[str, str] | None = None,
              gpus: list[int] | None = None, grace: float | None = None) -> dict[str, Any]:
        """Start (or queue) a job; an existing job id returns its info."""
        return self.request("spawn", _spawn_args(job, argv, cwd, env, gpus, grace))

    def stop(self, job: str, grace: float | None = None) -> dict[str, Any]:
        """Stop a job (SIGTERM, then SIGKILL after the grace period)."""
        return self.request("stop", {"job": job} if grace is None else {"job": job, "grace": grace})

    def status(self, job: str) -> dict[str, Any]:
        """One job's info."""
        return self.request("status", {"job": job})

    def list(self) -> list[dict[str, Any]]:
        """Every job's info."""
        return self.request("list")

    def replay_from(self, job: str, seq: int) -> dict[str, Any]:
        """Journal records of `job` with seq >= `seq`, and its info."""
        return self.request("replay_from", {"job": job, "seq": seq})

    def shutdown(self, stop_jobs: bool = False, grace: float | None = None) -> dict[str, Any]:
        """Ask the supervisor to exit: jobs keep running, or with `stop_jobs` are stopped first."""
        return self.request("shutdown", _shutdown_args(stop_jobs, grace))


class AsyncClient:
    """asyncio client with the same methods; concurrent calls are serialised."""

    def __init__(self, endpoint: str, timeout: float = 2.5, retries: int = 3,
                 context: zmq.asyncio.Context | None = None) -> None:
        self.endpoint = protocol.router_endpoint(endpoint)
        self.timeout = timeout
        self.retries = retries
        self.ctx = context or zmq.asyncio.Context.instance()
        self.sock: zmq.asyncio.Socket | None = None
        self._lock = asyncio.Lock()

    def _drop_socket(self) -> None:
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    async def request(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """Send one request; return its result (raises SupervisorError / SupervisorUnavailable)."""
        message = protocol.request(op, args)
        payload = protocol.pack(message)
        async with self._lock:
            for _ in range(self.retries + 1):
                if self.sock is None:
                    self.sock = self.ctx.socket(zmq.DEALER)
                    self.sock.setsockopt(zmq.LINGER, 0)
                    self.sock.connect(self.endpoint)
                await self.sock.send(payload)
                deadline = time.monotonic() + self.timeout
                while (left := deadline - time.monotonic()) > 0:
                    if not await self.sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                        break
                    reply = _matches(await self.sock.recv(), message["id"])
                    if reply is not None:
                        return _result(reply)
                self._drop_socket()
        raise SupervisorUnavailable(f"no reply from {self.endpoint} to {op} after {self.retries + 1} tries")

    def close(self) -> None:
        """Close the socket."""
        self._drop_socket()

    async def ping(self) -> dict[str, Any]:
        """Version, pid and start time of the supervisor."""
        return await self.request("ping")

    async def spawn(self, job: str, argv: list[str], cwd: str, env: dict[str, str] | None = None,
                    gpus: list[int] | None = None, grace: float | None = None) -> dict[str, Any]:
        """Start (or queue) a job; an existing job id returns its info."""
        return await self.request("spawn", _spawn_args(job, argv, cwd, env, gpus, grace))

    async def stop(self, job: str, grace: float | None = None) -> dict[str, Any]:
        """Stop a job (SIGTERM, then SIGKILL after the grace period)."""
        return await self.request("stop", {"job": job} if grace is None else {"job": job, "grace": grace})

    async def status(self, job: str) -> dict[str, Any]:
        """One job's info."""
        return await self.request("status", {"job": job})

    async def list(self) -> list[dict[str, Any]]:
        """Every job's info."""
        return await self.request("list")

    async def replay_from(self, job: str, seq: int) -> dict[str, Any]:
        """Journal records of `job` with seq >= `seq`, and its info."""
        return await self.request("replay_from", {"job": job, "seq": seq})

    async def shutdown(self, stop_jobs: bool = False, grace: float | None = None) -> dict[str, Any]:
        """Ask the supervisor to exit: jobs keep running, or with `stop_jobs` are stopped first."""
        return await self.request("shutdown", _shutdown_args(stop_jobs, grace))
