"""The freshness suite's ear for the projectors' announcements, in a process of its own.

`python -m bench.suites.freshness_listen NATS_URL` subscribes to every read model's
announcements (`eventstore.projection_news`), prints `started` once the server has the
subscription, notes each message's arrival (wall clock) until a line `stop` (or the end of
stdin) comes, and then prints one JSON line per message heard: `[arrived, subject, data]`.

Why a process (fresh23): the suite's probes read their answers on the bench's event loop, and
every commit of every read model is announced (some 600-700 a second under the suite's load):
heard on that loop, their decoding took turns from the probes' answers, and the bench measured
itself. A process of its own hears them as the gateway process does, on a connection and a
loop of its own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import nats
from nats.aio.msg import Msg

from eventstore.projection_news import SUBJECT_PREFIX


async def _until_stopped() -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            return


async def main(url: str) -> None:
    heard: list[tuple[float, str, bytes]] = []

    async def on_message(msg: Msg) -> None:
        heard.append((time.time(), msg.subject, msg.data))

    client = await nats.connect(url, max_reconnect_attempts=-1, connect_timeout=5)
    try:
        sub = await client.subscribe(f"{SUBJECT_PREFIX}.>", cb=on_message)
        await client.flush()  # the server has the subscription: nothing announced after is missed
        print("started", flush=True)
        await _until_stopped()
        # What the server sent before the stop is read (a round trip after it), and handed to
        # the callback (a drain, not an unsubscribe, which would drop what waits for it).
        await client.flush()
        await sub.drain()  # type: ignore[no-untyped-call]
    finally:
        await client.close()
    out = sys.stdout
    for arrived, subject, data in heard:
        out.write(json.dumps([arrived, subject, data.decode()]) + "\n")
    out.flush()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m bench.suites.freshness_listen NATS_URL")
    asyncio.run(main(sys.argv[1]))
