"""`audit projections rebuild` asks `may_create_consumers` whether its groups' runners may
run consumers (else they read by direct gets). The probe created an ephemeral consumer
(`$JS.API.CONSUMER.CREATE.<stream>`), while a runner creates a durable one by name and
filter, asks its info, pulls from it and deletes it: a login allowed only the ephemeral
subject was told yes, and the rebuild's runners were then refused until the group timed
out. Now the probe answers yes exactly when the runner's consumer works.

A refused request ends only in the timeout: each refused login waited it out twice, the probe's
then the runner's (2 x 10 s a test). suite22: one server for the module, and every login's
probe and runner asked at once on connections of their own (a durable of its own name per
login), so the module waits the timeout out once; each test asserts its own login's answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from eventstore.nats_launcher import NatsServer
from eventstore.split_rebuild import may_create_consumers

STREAM, SUBJECTS = "PROBED", "probed.events.>"
TIMEOUT = 10.0  # an allowed request answers at once; a refused one ends only in this
READS = ["$JS.API.INFO", f"$JS.API.STREAM.INFO.{STREAM}", f"$JS.API.DIRECT.GET.{STREAM}"]
EPHEMERAL_ONLY = [
    *READS,
    f"$JS.API.CONSUMER.CREATE.{STREAM}",
    f"$JS.API.CONSUMER.DELETE.{STREAM}.*",
]
RUNNER = [
    *READS,
    f"$JS.API.CONSUMER.CREATE.{STREAM}.>",
    f"$JS.API.CONSUMER.INFO.{STREAM}.*",
    f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.*",
    f"$JS.API.CONSUMER.DELETE.{STREAM}.*",
    f"$JS.ACK.{STREAM}.>",
]
USERS = {"admin": None, "ephemeral": EPHEMERAL_ONLY, "runner": RUNNER, "reader": READS}


def _user(name: str, publish: list[str] | None) -> str:
    if publish is None:
        return f'{{user: "{name}", password: "pw"}}'
    allow = json.dumps(publish)
    return (f'{{user: "{name}", password: "pw", permissions: {{publish: {{allow: {allow}}},'
            f' subscribe: {{allow: ["_INBOX.>"]}}}}}}')  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    tmp_path = tmp_path_factory.mktemp("probe")
    users = ",\n".join(_user(n, p) for n, p in USERS.items())
    config = tmp_path / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
                      f"authorization {{ users: [\n{users}\n] }}\n")  # fmt: skip
    started = NatsServer(tmp_path, config_file=config)
    yield started.start()
    started.stop()


async def _stream(server: NatsServer) -> None:
    nc = NATS()
    await nc.connect(server.url, user="admin", password="pw")
    js = nc.jetstream()
    await js.add_stream(name=STREAM, subjects=[SUBJECTS])
    await js.publish("probed.events.tender.t1.TenderPlanned", b"{}")
    await nc.close()


async def _answers(server: NatsServer, user: str) -> tuple[bool, bool]:
    """What the probe says for `user`, and whether the runner's consumer works for it, asked
    at once on two connections of its own."""

    async def connected() -> NATS:
        nc = NATS()
        await nc.connect(server.url, user=user, password="pw", error_cb=_quiet)
        return nc

    probing, running = await connected(), await connected()
    try:
        probe, works = await asyncio.gather(
            may_create_consumers(probing, STREAM, timeout=TIMEOUT),
            runner_consumer_works(running, durable=f"rebuild-group-{user}"),
        )
    finally:
        await probing.close()
        await running.close()
    return probe, works


@pytest.fixture(scope="module")
def answers(server: NatsServer) -> dict[str, tuple[bool, bool]]:
    """Every login's (probe, works), all asked at once: a refused one waits TIMEOUT."""

    async def every() -> dict[str, tuple[bool, bool]]:
        await _stream(server)
        users = [u for u in USERS if u != "admin"]
        found = await asyncio.gather(*(_answers(server, u) for u in users))
        return dict(zip(users, found, strict=True))

    return asyncio.run(every())


async def runner_consumer_works(nc: NATS, durable: str = "rebuild-group-0") -> bool:
    """What a projection runner's `DurableSubscriber` does when it arms after a position."""
    js = nc.jetstream(timeout=TIMEOUT)
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=1,
        filter_subject=SUBJECTS,
    )
    try:
        sub = await js.pull_subscribe(SUBJECTS, durable=durable, stream=STREAM, config=config)
        [message] = await sub.fetch(1, timeout=TIMEOUT)
        await message.ack()
        await js.delete_consumer(STREAM, durable)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("user", ["runner", "ephemeral", "reader"])
def test_the_probe_says_yes_exactly_when_the_runner_s_consumer_works(
    answers: dict[str, tuple[bool, bool]], user: str
) -> None:
    probe, works = answers[user]
    assert probe == works, (user, probe, works)
    assert works == (user == "runner"), (user, works)


async def _quiet(exc: Exception) -> None:
    """The refused requests' permission violations are expected here."""
