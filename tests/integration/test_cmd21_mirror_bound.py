"""cmd21 (review20c's doubt 3): the record mirrors (`processed.RecordMirror`) hold no key of
the import's form (`import-<hash>`, `processed.UNMIRRORED_PREFIX`): an OCDS import of a
million records held ~130 MB in every mirror of every service process, never shrunk. Such
an id is answered as one that may exist and looked up, as before any mirror, so idempotency
is as strong as it was: every import id, recorded before the start, during the load or
while serving, in this context's bucket or another's, is refused when a command reuses it.

The bound is shown by count: the mirrors' key counts after N import records are those of
the other keys alone. Real JetStream; commands over NATS to the service's own connection,
as in cmd19's and cmd20's tests (whose helpers these use)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT, NOTIFIER
from eventstore.clock import FixedClock
from eventstore.processed import KeyValueProcessedCommands, RecordMirror, processed_bucket
from tests.integration.test_cmd19_record_mirror import (
    BOUND,
    amounts,
    connect,
    handle,
    service_on,
    settled,
)
from tests.integration.test_cmd20_all_records_mirrored import (
    all_trusted,
    buckets,
    direct_gets,
    mirrors,
    record_of,
    warm_on,
)
from tests.support.ledger import LEDGER, RecordEntries

__all__ = ["connect"]  # (the fixture, taken from cmd19's tests)

IMPORTED = 400  # import records per bucket, before the start and while serving each


def import_id(n: int) -> str:
    """An id as the OCDS import makes one (`audit.ocds.importer_ids.command_id`)."""
    return f"import-{hashlib.sha256(str(n).encode()).hexdigest()[:48]}"


async def held(mirror: RecordMirror, key: str) -> None:
    """Until `mirror` holds `key` (a plain key, written after the ones before it)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + BOUND
    while key not in mirror._keys:
        assert loop.time() < until, f"{key} never held"
        await asyncio.sleep(0.02)


async def test_a_mirror_holds_no_import_key_and_refuses_every_import_id(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    writer = await connect()  # type: ignore[misc]
    own = await KeyValueProcessedCommands.open(writer, LEDGER)
    records = {"own": own, **(await buckets(writer, ENROLMENT))}
    context = {"own": LEDGER, "enrolment": ENROLMENT}
    written: dict[str, list[str]] = {"own": [], "enrolment": []}

    async def put(name: str, key: str) -> None:
        await records[name].put(key, record_of(context[name], key))
        written[name].append(key)

    # Before the start: import records in both buckets, one other key in each.
    for n in range(IMPORTED):
        await put("own" if n % 2 else "enrolment", import_id(n))
    await put("own", "plain-own-before")
    await put("enrolment", "plain-enrolment-before")
    nc = await connect()  # type: ignore[misc]
    service = await all_trusted(await service_on(nc, fixed_clock))
    own_mirror, *others = mirrors(service)
    enrolment_mirror = next(m for m in others if "enrolment" in m._prefix)
    await warm_on(service, "ia")  # (its record: a plain key held by its own mirror)
    # While serving: as many again, then one plain key each, written last.
    for n in range(IMPORTED, 2 * IMPORTED):
        await put("own" if n % 2 else "enrolment", import_id(n))
    await put("own", "plain-own-after")
    await put("enrolment", "plain-enrolment-after")
    await held(own_mirror, "plain-own-after")
    await held(enrolment_mirror, "plain-enrolment-after")

    # The bound, by count: the plain keys alone are held (before: 2 * IMPORTED more).
    own_plain = [k for k in written["own"] if k.startswith("plain-")]
    assert len(own_mirror) == len(own_plain) + 1  # (+ the warm command's record)
    assert len(enrolment_mirror) == 2
    assert not any(k.startswith("import-") for m in mirrors(service) for k in m._keys)

    # A warm command with a new plain id still asks no bucket.
    spy = await connect()  # type: ignore[misc]
    seen = await direct_gets(spy)
    for n in range(3):
        reply = await handle(
            service, RecordEntries(command_id=f"i-{n}", ledger_id="ia", amounts=[2])
        )
        assert isinstance(reply, CommandAccepted)
    await settled(nc, spy)
    assert seen == []
    # Every import id, whichever bucket and whenever it was recorded: refused, looked up.
    reused = [k for name in written for k in written[name]]
    for key in reused:
        reply = await handle(service, RecordEntries(command_id=key, ledger_id="ia", amounts=[9]))
        assert isinstance(reply, CommandRejected), key
        assert reply.code == "COMMAND_ID_REUSED", key
    await settled(nc, spy)
    assert seen  # (asked: an import id is never answered from the mirror)
    # A new id of the import's form: looked up, found nowhere, accepted once.
    fresh = import_id(10**6)
    first = await handle(service, RecordEntries(command_id=fresh, ledger_id="ia", amounts=[3]))
    again = await handle(service, RecordEntries(command_id=fresh, ledger_id="ia", amounts=[3]))
    assert isinstance(first, CommandAccepted)
    assert not first.duplicate
    assert isinstance(again, CommandAccepted)
    assert again.duplicate
    assert await amounts(nc, fixed_clock, "ia") == [1, 2, 2, 2, 3]
    assert fresh not in own_mirror._keys


async def test_an_import_id_in_a_bucket_created_after_the_start_is_refused_at_once(
    connect: Callable[..., object], fixed_clock: FixedClock
) -> None:
    """cmd20's case (a bucket found missing, created later: its record refused at once, not
    missed while the bucket is "missing") for an id the mirror does not hold."""
    nc = await connect()  # type: ignore[misc]
    service = await all_trusted(await service_on(nc, fixed_clock))  # no other bucket yet
    await warm_on(service, "ca")
    notifiers = [o for o in service._elsewhere if processed_bucket(NOTIFIER) in o._bucket]
    assert await notifiers[0].lookup(import_id(1), BOUND) is None  # known missing from now
    later = await buckets(await connect(), NOTIFIER)  # type: ignore[misc]
    late = import_id(2)
    await later["notifier"].put(late, record_of(NOTIFIER, late))
    reply = await handle(service, RecordEntries(command_id=late, ledger_id="ca", amounts=[2]))
    assert isinstance(reply, CommandRejected)
    assert reply.code == "COMMAND_ID_REUSED"
    assert await amounts(nc, fixed_clock, "ca") == [1]
    assert notifiers[0].mirror is not None
    assert len(notifiers[0].mirror) == 0  # (not held: looked up once heard of)
