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
import math
import sys

import nats
import nats.errors
import nats.js.errors


class CannotConsume(Exception):
    """What stopped the consumer, in one sentence for its operator."""


async def consume(url: str, org: str, password: str, limit: int | None, idle: float) -> int:
    told: list[str] = []

    async def remember(error: Exception) -> None:  # nats-py's default prints a traceback
        told.append(str(error) or type(error).__name__)

    try:
        nc = await nats.connect(
            url, user=org, password=password, inbox_prefix=f"_INBOX_{org}", connect_timeout=5,
            error_cb=remember,
            # nats-py's first connect retries a refused server 60 times, 2 s apart: a
            # 2-minute silence before any word. Twice, then say why.
            max_reconnect_attempts=1, reconnect_time_wait=1,
        )  # fmt: skip
    except (nats.errors.Error, OSError) as e:
        # The server's word (e.g. 'Authorization Violation') over the reset of a later try.
        said = [t for t in told if "violation" in t.lower() or "authoriz" in t.lower()]
        reason = (said or told or [str(e) or type(e).__name__])[-1]
        raise CannotConsume(f"cannot connect to {url} as {org}: {reason}") from None
    # Once connected, a server restart is waited out as nats-py's defaults do (read at
    # each reconnect), so a long-running consumer rides through it.
    nc.options["max_reconnect_attempts"] = 60
    nc.options["reconnect_time_wait"] = 2
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable=f"org_{org}", stream="INTEGRATION")
        handled = 0
        while limit is None or handled < limit:
            try:
                # No more than a bounded run still takes: each fetched message is handled
                # and acked, so fetching 10 for `--max 1` took (and acked) up to 10.
                wanted = 10 if limit is None else min(10, limit - handled)
                msgs = await sub.fetch(wanted, timeout=idle)
            except TimeoutError:  # nats-py raises its own or asyncio's, depending on the path
                if limit is None:
                    continue  # keep waiting for news
                break  # a bounded run stops when nothing more arrives
            except nats.js.errors.Error as e:  # (binding does not look the consumer up)
                raise CannotConsume(
                    f"cannot read consumer org_{org} of the INTEGRATION stream at {url}"
                    f" ({type(e).__name__}): is the notifier running (it creates the consumer),"
                    " and is the organisation code right?"
                ) from None
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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def positive_seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


class Once(argparse.Action):
    """An option given twice is refused: argparse keeps the last without a word, so
    `--org GM0363 ... --org GM0599` (a script adding its own flags to the user's) read the
    other organisation's feed, `--max 1 --max 100` took 100 (correct22)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:  # fmt: skip
        if getattr(namespace, f"_{self.dest}_given", False):
            parser.error(f"argument {option_string}: given more than once; give it once")
        setattr(namespace, f"_{self.dest}_given", True)
        setattr(namespace, self.dest, values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222", action=Once)
    parser.add_argument("--org", required=True, help="organisation code, e.g. GM0363", action=Once)
    parser.add_argument("--password", required=True, action=Once)
    parser.add_argument(
        "--max", type=positive_int, default=None, help="stop after this many events (1 or more)",
        action=Once,
    )  # fmt: skip
    parser.add_argument(
        "--idle", type=positive_seconds, default=5.0, help="seconds to wait per fetch (above 0)",
        action=Once,
    )  # fmt: skip
    args = parser.parse_args()
    try:
        asyncio.run(consume(args.url, args.org, args.password, args.max, args.idle))
    except CannotConsume as e:
        print(f"municipal_consumer: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
