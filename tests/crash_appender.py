"""Child process of the crash tests: many concurrent appenders; print each seq once its append returned."""

from __future__ import annotations

import asyncio
import sys

from eventlog import Event, EventLog


async def main(directory: str, appenders: int) -> None:
    log = EventLog(directory, segment_bytes=4096)
    out = sys.stdout

    async def appender(n: int) -> None:
        i = 0
        while True:
            records = await log.append([Event("crash.test", {"appender": n, "i": i, "pad": "x" * (i % 50)})])
            out.write(f"{records[-1].seq}\n")
            out.flush()
            i += 1

    print("ready", flush=True)
    await asyncio.gather(*(appender(n) for n in range(appenders)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
