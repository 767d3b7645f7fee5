"""A municipal system reading its integration events with plain nats-py.

    python examples/municipal_consumer.py --url nats://127.0.0.1:4222 --org GM0363 \
        --password SECRET

(needs nats-py; the secret from `python -m notifier.nats_auth issue GM0363`. `make run`
prints this line with GM0363's local secret and the repository's `.venv/bin/python`.)

It binds to its organisation's durable consumer `org_<code>` on the INTEGRATION stream (the
notifier creates it with the filters gt.org.<code>.> and gt.public.>), so after downtime it
resumes exactly where it acked last. Each message is a CloudEvents 1.0 JSON document; dedupe
on `id` if your handler is not idempotent. Prints one JSON line per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import nats


async def consume(url: str, org: str, password: str, limit: int | None, idle: float) -> int:
    nc = await nats.connect(
        url, user=org, password=password, inbox_prefix=f"_INBOX_{org}", connect_timeout=5
    )
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable=f"org_{org}", stream="INTEGRATION")
        handled = 0
        while limit is None or handled < limit:
            try:
                msgs = await sub.fetch(10, timeout=idle)
            except TimeoutError:  # nats-py raises its own or asyncio's, depending on the path
                if limit is None:
                    continue  # keep waiting for news
                break  # a bounded run stops when nothing more arrives
            for msg in msgs:
                event = json.loads(msg.data)
                print(
                    json.dumps(
                        {
                            "subject": msg.subject,
                            "type": event["type"],
                            "id": event["id"],
                            "data": event["data"],
                        }
                    ),
                    flush=True,
                )
                await msg.ack()  # only after handling: a crash before this redelivers it
                handled += 1
        return handled
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--org", required=True, help="organisation code, e.g. GM0363")
    parser.add_argument("--password", required=True)
    parser.add_argument("--max", type=int, default=None, help="stop after this many events")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds to wait per fetch")
    args = parser.parse_args()
    asyncio.run(consume(args.url, args.org, args.password, args.max, args.idle))


if __name__ == "__main__":
    main()
