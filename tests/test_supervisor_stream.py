"""The PUB stream through a Subscriber: every record once and in order, catch-up, heartbeats."""

from __future__ import annotations

import asyncio
from typing import Any

from supervisor.client import AsyncClient
from supervisor.subscriber import Subscriber
from tests.supervisor_support import Env, fake_job

N = 1000


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


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
        await _until(lambda: "exited" in states, 30, "the job to exit")
        await _until(lambda: len(got) >= N + 1, 10, "every record")
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
        await _until(lambda: "down" in events, 15, "the down notice")
        env.start()
        await _until(lambda: "up" in events, 15, "heartbeats to resume")
        await sub.close()

    asyncio.run(scenario())
