"""The supervisor process: ROUTER/PUB/PULL sockets, the op registry and the one dispatcher."""

from __future__ import annotations

import logging
import os
import signal
import time
from types import FrameType
from typing import Any, Callable

import zmq
from zmq.utils.monitor import recv_monitor_message

from supervisor import lifecycle, protocol, statelock, states
from supervisor.jobs import JobTable
from supervisor.lifecycle import IdleWatch
from supervisor.protocol import ProtocolError
from supervisor.sockdir import private_endpoint, remove_sockets

log = logging.getLogger("supervisor")

TICK = 0.1  # seconds between looks at the job processes
IDLE_CHECK = 1.0  # seconds between looks at whether an idle supervisor should exit
Handler = Callable[[dict[str, Any]], Any]


class Server:
    """One supervisor: serves requests, publishes, watches jobs until shut down."""

    def __init__(self, endpoint: str, state_dir: str, grace: float = protocol.DEFAULT_GRACE,
                 idle_exit: float = protocol.DEFAULT_IDLE_EXIT) -> None:
        self.endpoint = endpoint
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self._lock_fd = statelock.acquire(self.state_dir)
        try:
            private_endpoint(endpoint)  # refuses a socket directory others can reach
        except OSError:
            os.close(self._lock_fd)
            raise
        self.started = time.time()
        self.next_hb = 0.0  # monotonic time of the next heartbeat (sooner when a subscriber joins)
        self.running = True
        self.state = lifecycle.SERVING
        self.idle = IdleWatch(self.state_dir, idle_exit)
        self.ctx = zmq.Context()
        self.router = self._socket(zmq.ROUTER, protocol.router_endpoint(endpoint))
        self.pub = self._socket(zmq.PUB, protocol.pub_endpoint(endpoint))
        self.pub.setsockopt(zmq.SNDHWM, 100_000)
        self.pub_monitor = self.pub.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
        self.pull = self._socket(zmq.PULL, protocol.push_endpoint(endpoint))
        self.jobs = JobTable(self.state_dir, protocol.push_endpoint(endpoint), self.publish, grace)
        self.ops: dict[str, Handler] = {
            "ping": self.op_ping,
            "spawn": self.op_spawn,
            "stop": lambda a: self.jobs.stop(a["job"], a.get("grace")),
            "status": lambda a: self.jobs.get(a["job"]).info(),
            "list": lambda a: [r.info() for r in self.jobs.records.values()],
            "replay_from": self.op_replay_from,
            "shutdown": self.op_shutdown,
        }
        assert set(self.ops) == set(protocol.MESSAGES), "every op of the protocol table has a handler"

    def _socket(self, kind: int, address: str) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(address)
        return sock

    # -- ops -------------------------------------------------------------------------------------

    def op_ping(self, args: dict[str, Any]) -> dict[str, Any]:
        """Liveness and identity."""
        return {"version": protocol.VERSION, "pid": os.getpid(), "started": self.started}

    def op_replay_from(self, args: dict[str, Any]) -> dict[str, Any]:
        """Journal records of a job from a seq."""
        seq = args["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ProtocolError(protocol.BAD_REQUEST, "seq must be an integer")
        return self.jobs.replay(args["job"], seq)

    def op_spawn(self, args: dict[str, Any]) -> dict[str, Any]:
        """Spawn, unless the supervisor is on its way out."""
        if self.state != lifecycle.SERVING and args.get("job") not in self.jobs.records:
            raise ProtocolError(protocol.SHUTTING_DOWN, "this supervisor is stopping its jobs to exit: nothing new "
                                                        "is started")
        return self.jobs.spawn(args)

    def op_shutdown(self, args: dict[str, Any]) -> dict[str, Any]:
        """Exit after replying (jobs keep running), or with `stop_jobs` stop every job first."""
        if not args.get("stop_jobs"):
            self.change_state(lifecycle.CLOSING, "asked to exit; its jobs keep running")
            return {}
        self.jobs.starting_allowed = False
        stopping = [r.job for r in self.jobs.records.values() if r.state in states.ACTIVE | {states.QUEUED}]
        for job in stopping:
            self.jobs.stop(job, args.get("grace"))
        if self.state == lifecycle.SERVING:
            self.change_state(lifecycle.DRAINING, f"asked to stop its {len(stopping)} job(s) and exit")
        return {"stopping": stopping}

    def change_state(self, new: str, reason: str) -> None:
        """The one place the supervisor's own state changes: checked, logged and published."""
        if new == self.state:
            return
        if new not in lifecycle.TRANSITIONS[self.state]:
            raise ValueError(f"supervisor: cannot go from {self.state} to {new}")
        log.info("supervisor %s -> %s: %s", self.state, new, reason)
        self.state = new
        self.publish(protocol.SUPERVISOR_TOPIC, {"kind": "supervisor", "state": new, "reason": reason,
                                                 "pid": os.getpid()})
        if new == lifecycle.CLOSING:
            self.running = False

    # -- the dispatcher --------------------------------------------------------------------------

    def dispatch(self, payload: bytes) -> dict[str, Any]:
        """Turn one request payload into one reply map; every exception becomes an error reply."""
        request_id: Any = None
        try:
            message = protocol.unpack(payload)
            if not isinstance(message, dict):
                raise ProtocolError(protocol.BAD_REQUEST, "a request must be a msgpack map")
            request_id = message.get("id")
            if message.get("v", protocol.VERSION) != protocol.VERSION:
                raise ProtocolError(protocol.VERSION_MISMATCH, f"this supervisor speaks version {protocol.VERSION}, not {message.get('v')!r}")
            op, args = message.get("op"), message.get("args", {})
            if op not in self.ops:
                raise ProtocolError(protocol.UNKNOWN_OP, f"unknown op {op!r}; known: {', '.join(sorted(self.ops))}")
            if not isinstance(args, dict):
                raise ProtocolError(protocol.BAD_REQUEST, "args must be a map")
            required, optional = protocol.MESSAGES[op]
            missing = [name for name in required if name not in args]
            unknown = [name for name in args if name not in required and name not in optional]
            if missing or unknown:
                raise ProtocolError(protocol.BAD_REQUEST, f"{op}: missing args {missing}, unknown args {unknown}")
            return protocol.ok_reply(request_id, self.ops[op](args))
        except ProtocolError as exc:
            return protocol.error_reply(request_id, exc.code, exc.message)
        except (ValueError, TypeError) as exc:
            return protocol.error_reply(request_id, protocol.BAD_REQUEST, f"undecodable request: {exc}")
        except Exception as exc:  # the one place where anything else becomes a protocol error
            log.exception("internal error handling a request")
            return protocol.error_reply(request_id, protocol.INTERNAL, f"{type(exc).__name__}: {exc}")

    # -- the loop --------------------------------------------------------------------------------

    def publish(self, topic: bytes, body: dict[str, Any]) -> None:
        """Publish one message (never blocks: PUB drops when its queue is full)."""
        try:
            self.pub.send_multipart([topic, protocol.pack(body)], flags=zmq.NOBLOCK)
        except zmq.Again:
            log.warning("PUB queue full: dropped a message on %r", topic)

    def serve(self) -> None:
        """Recover the job table, then serve until shutdown (or SIGTERM/SIGINT)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.jobs.recover()
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.pull, zmq.POLLIN)
        poller.register(self.pub_monitor, zmq.POLLIN)
        next_tick = next_idle_check = self.next_hb = 0.0
        while self.running:
            ready = dict(poller.poll(int(TICK * 1000)))
            if self.pull in ready:
                self._drain_pull()
            if self.router in ready:
                self._drain_router()
            if self.pub_monitor in ready:
                self._drain_monitor()
            now = time.monotonic()
            if now >= next_tick:
                self._drain_pull()
                self.jobs.tick()
                next_tick = now + TICK
            if now >= self.next_hb:
                self.publish(protocol.HB_TOPIC, {"time": time.time(), "pid": os.getpid()})
                self.next_hb = now + protocol.HEARTBEAT_INTERVAL
            if now >= next_idle_check and self.running:
                self._check_exit()
                next_idle_check = now + IDLE_CHECK
        self.close()

    def _check_exit(self) -> None:
        busy = any(r.state in states.ACTIVE or r.state == states.QUEUED for r in self.jobs.records.values())
        if self.state == lifecycle.DRAINING:
            if not busy:
                self.change_state(lifecycle.CLOSING, "every job has ended")
            return
        reason = self.idle.reason_to_exit(busy)
        if reason is not None:
            self.change_state(lifecycle.CLOSING, reason)

    def _drain_monitor(self) -> None:
        while True:
            try:
                event = recv_monitor_message(self.pub_monitor, flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_ACCEPTED:
                self.idle.subscriber_joined()
                self.next_hb = min(self.next_hb, time.monotonic() + protocol.HEARTBEAT_AFTER_JOIN)
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self.idle.subscriber_left()

    def _drain_router(self) -> None:
        while self.running:
            try:
                frames = self.router.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                continue  # not a DEALER sending one frame: nothing sensible to reply to
            reply = self.dispatch(frames[1])
            self.router.send_multipart([frames[0], protocol.pack(reply)])
            if not self.running:
                time.sleep(0.05)  # let the shutdown reply leave before the sockets close

    def _drain_pull(self) -> None:
        for _ in range(10_000):
            try:
                payload = self.pull.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                message = protocol.unpack(payload)
                self.jobs.on_pushed(message["job"], message["record"])
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("ignored a malformed pushed record: %s", exc)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.running = False  # not change_state: publishing from a signal handler could re-enter zmq

    def close(self) -> None:
        """Close and remove the sockets, then release the state directory (jobs keep running)."""
        self.pub.disable_monitor()
        self.pub_monitor.close(linger=0)
        for sock in (self.router, self.pub, self.pull):
            sock.close(linger=200)
        self.ctx.term()
        remove_sockets(self.endpoint)  # before the lock goes: a successor binds only after taking it
        os.close(self._lock_fd)
