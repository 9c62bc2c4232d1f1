"""The PUB stream through a Subscriber: every record once and in order, catch-up, heartbeats, reconnection."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import zmq
import zmq.asyncio

from supervisor.client import AsyncClient
from supervisor.subscriber import Subscriber
from tests.supervisor_support import Env, fake_job, until

N = 1000


def test_a_thousand_records_arrive_once_and_in_order(env: Env) -> None:
    env.start()

    async def scenario() -> None:
        got: list[int] = []
        states: list[str] = []
        sub = Subscriber(env.endpoint, lambda job, rec: got.append(rec["seq"]),
                         on_state=lambda job, info: states.append(info["state"]))
        await sub.start()
        await asyncio.sleep(0.3)  # let the subscription reach the PUB socket (a gap would be filled anyway)
        client = AsyncClient(env.endpoint, timeout=2.0, retries=3)
        info = await client.spawn("many", fake_job("--count", str(N)), env.job_dir("many"))
        assert info["state"] == "running"
        await until(lambda: "exited" in states, 30, "the job to exit")
        await until(lambda: len(got) >= N + 1, 10, "every record")
        assert got == list(range(1, N + 2))
        assert states[-1] == "exited"

        # A restarted consumer that saw up to seq 500 catches up with exactly the rest.
        later: list[dict[str, Any]] = []
        sub2 = Subscriber(env.endpoint, lambda job, rec: later.append(rec), last_seqs={"many": 500})
        await sub2.start()
        assert [r["seq"] for r in later] == list(range(501, N + 2))
        assert later[-1]["type"] == "done" and later[0]["data"] == {"step": 500}
        await sub2.close()
        await sub.close()
        client.close()

    asyncio.run(scenario())


def test_subscriber_reports_missed_heartbeats(env: Env) -> None:
    sup = env.start()

    async def scenario() -> None:
        events: list[str] = []
        sub = Subscriber(env.endpoint, lambda job, rec: None, on_down=lambda: events.append("down"),
                         on_up=lambda: events.append("up"))
        await sub.start()
        await asyncio.sleep(1.5)
        assert events == []
        sup.kill9()
        await until(lambda: "down" in events, 15, "the down notice")
        env.start()
        await until(lambda: "up" in events, 15, "heartbeats to resume")
        await sub.close()

    asyncio.run(scenario())


def test_a_job_ending_while_the_subscriber_reconnects_to_a_new_supervisor_is_still_delivered(env: Env) -> None:
    """A SUB socket misses what is published while it reconnects (slowed here to 2-4 s): at the new supervisor's
    first heartbeat the Subscriber reads the jobs again, so the job's end and its last records arrive, once each."""
    sup = env.start()
    flag = os.path.join(env.root, "go")
    sup.client.spawn("t", fake_job("--count", "5", "--wait-file", flag, "--after", "20"), env.job_dir("t"))

    async def scenario() -> None:
        got: list[int] = []
        states: list[str] = []
        slow = zmq.asyncio.Context()
        slow.setsockopt(zmq.RECONNECT_IVL, 2000)
        sub = Subscriber(env.endpoint, lambda job, rec: got.append(rec["seq"]),
                         on_state=lambda job, i: states.append(i["state"]), context=slow)
        try:
            await sub.start()
            await until(lambda: len(got) >= 5, what="the first records")
            sup.kill9()
            await asyncio.to_thread(env.start)  # re-adopts the job, seconds before the Subscriber is back
            open(flag, "w").close()  # the job ends now: its last records and its end are published to nobody
            await until(lambda: "exited" in states, 20, "the job's end")
            assert got == list(range(1, 27)) and states.count("exited") == 1, (got, states)
        finally:
            await sub.close()
            slow.term()

    asyncio.run(scenario())

