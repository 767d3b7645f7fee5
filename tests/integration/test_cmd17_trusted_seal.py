"""A command's events sealed from its own values (cmd17, issue 18): the command path builds each
envelope as the import lane does (`bulk_seal.seal_trusted`, through the store's `sealer`), not
by validating a dictionary of the values it made itself and dumping the result again for the
hash (`records.seal`). The envelopes are the same: the stored events verify (hash chain,
signature) and decode to what was appended. What that validation still caught on this path
(an aggregate id that is no `Identifier`, from a route whose id field is a plain string) is
refused exactly as before, with nothing stored. And the append's acknowledgement is parsed
by orjson, not the json module (the same values, a tenth of the cost), and a command's
processed-command record is written byte for byte as before without the json module's
encoder. On a real JetStream server."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta, tzinfo
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.base import Command
from contracts_schema.envelope import EventEnvelope
from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandRoute, CommandService
from eventstore.errors import ConcurrencyConflict
from eventstore.hashing import canonical_json_form, verify_chain
from eventstore.processed import KeyValueProcessedCommands
from eventstore.records import CommandMetadata, NewEvent
from eventstore.serving import request_payload
from eventstore.signing import EventSigner, new_seed, signature_holds
from eventstore.store import EventStore
from tests.support.ledger import DECIDER, EVENT_TYPES, LEDGER, ROUTES, RecordEntries, decide


class RecordLoosely(Command):
    """A command whose aggregate id field is a plain string (no pattern of its own)."""

    context = "ledger"
    ledger_id: str
    amounts: list[int]


LOOSE = CommandRoute(RecordLoosely, DECIDER, lambda c: c.ledger_id, decide)  # type: ignore[arg-type]


class Validations:
    """Counts `EventEnvelope.model_validate` calls (an envelope validated from Python values)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        validate = EventEnvelope.model_validate

        def counted(obj: Any, *args: Any, **kwargs: Any) -> EventEnvelope:
            self.count += 1
            return validate(obj, *args, **kwargs)

        monkeypatch.setattr(EventEnvelope, "model_validate", counted)


class AnsweredAtOnce:
    """The service's record, each lookup answered before the command decides (the answer
    the bucket gives, awaited beforehand): as at concurrency 64, where the lookups often
    answer first and nothing is sealed ahead."""

    def __init__(self, record: KeyValueProcessedCommands) -> None:
        self._record = record
        self.answers: dict[str, bytes | None] = {}

    def lookup(self, key: str, timeout: float) -> asyncio.Future[bytes | None]:
        found: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        found.set_result(self.answers.get(key))
        return found

    def __getattr__(self, name: str) -> Any:  # writes and the rest: the bucket's own
        return getattr(self._record, name)


async def service(
    nc: NATS, clock: FixedClock, signer: EventSigner, processed: Any = None
) -> CommandService:
    store = EventStore(nc, clock, signers={LEDGER.name: signer})
    svc = CommandService(LEDGER, store, clock, [*ROUTES, LOOSE], EVENT_TYPES, processed=processed)
    await svc.start()
    return svc


async def send(svc: CommandService, command: Command) -> CommandAccepted | CommandRejected:
    data = request_payload(command, "tester", None)
    reply = json.loads(await svc.handle(LEDGER.command_subject(command.command_type), data))
    if reply["status"] == "accepted":
        return CommandAccepted.model_validate(reply)
    return CommandRejected.model_validate(reply)


async def test_a_commands_envelopes_are_sealed_without_validating_them_again(
    nats_client: NATS, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = EventSigner(new_seed())
    svc = await service(nats_client, fixed_clock, signer)
    first = RecordEntries(command_id="ts-1", ledger_id="ts", amounts=[1])
    assert isinstance(await send(svc, first), CommandAccepted)  # the aggregate now cached
    validations = Validations(monkeypatch)

    second = await send(svc, RecordEntries(command_id="ts-2", ledger_id="ts", amounts=[2, 3]))
    await svc.drain()

    assert isinstance(second, CommandAccepted)
    assert validations.count == 0  # before cmd17: one per event (`records.seal`)
    monkeypatch.undo()
    history = await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "ts")
    envelopes = [e.envelope for e in history.events]
    assert [(e.command_id, e.payload) for e in envelopes] == [
        ("ts-1", {"amount": 1}),
        ("ts-2", {"amount": 2}),
        ("ts-2", {"amount": 3}),
    ]
    assert [e.event_id for e in envelopes[1:]] == [e.event_id for e in second.events]
    # As stored: each event's hash over its content, chained, and signed by the service.
    stored = [json.loads(e.model_dump_json()) for e in envelopes]
    assert verify_chain("ledger ts", stored) == []
    assert all(
        e.signer == signer.public_key and signature_holds(signer.public_key, e.hash, e.signature)
        for e in envelopes
        if e.signature is not None
    )
    assert all(e.signature is not None for e in envelopes)
    # Every field set, as a validated envelope's are (the same JSON when dumped unset-excluded).
    assert all(e.model_fields_set == set(EventEnvelope.model_fields) for e in envelopes)


async def test_a_command_whose_lookups_answered_first_is_sealed_the_same_way(
    nats_client: NATS, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = EventSigner(new_seed())
    record = AnsweredAtOnce(await KeyValueProcessedCommands.open(nats_client, LEDGER))
    svc = await service(nats_client, fixed_clock, signer, record)
    first = RecordEntries(command_id="ta-1", ledger_id="ta", amounts=[1])
    assert isinstance(await send(svc, first), CommandAccepted)
    validations = Validations(monkeypatch)

    second = await send(svc, RecordEntries(command_id="ta-2", ledger_id="ta", amounts=[2]))
    await svc.drain()

    assert isinstance(second, CommandAccepted)
    assert validations.count == 0  # before cmd17: sealed (and validated) by `append`
    monkeypatch.undo()
    history = await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "ta")
    stored = [json.loads(e.envelope.model_dump_json()) for e in history.events]
    assert [e["command_id"] for e in stored] == ["ta-1", "ta-2"]
    assert verify_chain("ledger ta", stored) == []
    assert all(signature_holds(signer.public_key, e["hash"], e["signature"]) for e in stored)


async def test_an_aggregate_id_no_envelope_takes_is_refused_as_before(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    svc = await service(nats_client, fixed_clock, EventSigner(new_seed()))
    fine = RecordLoosely(command_id="tl-1", ledger_id="tl", amounts=[1])
    assert isinstance(await send(svc, fine), CommandAccepted)
    too_long = "x" * 129  # a valid subject token, but no `Identifier` (at most 128)
    # Refused by the rule, with the (empty) aggregate loaded and cached on the way: the next
    # command on it is decided and sealed ahead, while its lookups are under way.
    zero = await send(svc, RecordLoosely(command_id="tl-2", ledger_id=too_long, amounts=[0]))
    assert isinstance(zero, CommandRejected)
    assert zero.code == "ZERO_ENTRY"

    refused = await send(svc, RecordLoosely(command_id="tl-3", ledger_id=too_long, amounts=[1]))

    assert isinstance(refused, CommandRejected)
    assert refused.code == "INTERNAL_ERROR"  # as when `records.seal` refused it
    store = EventStore(nats_client, fixed_clock)
    assert (await store.load(LEDGER, "ledger", too_long)).events == ()
    assert [e.envelope.command_id for e in (await store.load(LEDGER, "ledger", "tl")).events] == [
        "tl-1"
    ]


async def test_an_appends_acknowledgement_is_read_without_the_json_module(
    nats_client: NATS, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    history = await store.load(LEDGER, "ledger", "tj")
    new = [NewEvent("EntryRecorded", 1, {"amount": 1}, fixed_clock.now())]
    parsed: list[object] = []
    loads = json.loads

    def counted(data: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(data)
        return loads(data, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counted)
    stored = await store.append(history, new, CommandMetadata("tj-1", "t", "tj-1"))
    with pytest.raises(ConcurrencyConflict):  # the error acknowledgement read the same way
        await store.append(history, new, CommandMetadata("tj-2", "t", "tj-2"))
    monkeypatch.undo()

    assert parsed == []  # before cmd17: each acknowledgement by `json.loads`
    assert [(e.stream, e.seq, e.envelope.command_id) for e in stored] == [("LEDGER", 1, "tj-1")]


async def test_a_commands_record_is_written_as_before_without_the_json_module(
    nats_client: NATS, fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = await KeyValueProcessedCommands.open(nats_client, LEDGER)
    svc = await service(nats_client, fixed_clock, EventSigner(new_seed()), bucket)
    first = RecordEntries(command_id="tr-1", ledger_id="tr", amounts=[1])
    assert isinstance(await send(svc, first), CommandAccepted)
    heads: list[object] = []
    dumps = json.dumps

    def counted(value: Any, *args: Any, **kwargs: Any) -> str:
        if isinstance(value, dict) and "command_type" in value:
            heads.append(value)
        return dumps(value, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", counted)
    command = RecordEntries(command_id="tr-2", ledger_id="tr", amounts=[2])
    reply = await send(svc, command)
    await svc.drain()
    monkeypatch.undo()

    assert isinstance(reply, CommandAccepted)
    assert heads == []  # before cmd17: the record's head by `json.dumps`, every command
    record = await bucket.get("tr-2")
    assert record is not None
    fingerprint = hashlib.sha256(canonical_json_form(command.model_dump(mode="json"))).hexdigest()
    head = {"context": "ledger", "command_type": "RecordEntries", "fingerprint": fingerprint}
    reply_json = reply.model_dump_json(exclude={"duplicate"}).encode()
    # Byte for byte what the json module's head and pydantic's reply made before.
    assert record == json.dumps(head)[:-1].encode() + b', "reply": ' + reply_json + b"}"
    # And a resend is answered from it: the same reply, a duplicate.
    again = await send(svc, command)
    assert isinstance(again, CommandAccepted)
    assert again.duplicate
    assert again.events == reply.events


class NoOffset(tzinfo):
    """A time zone that knows no offset: a time carrying it is naive by Python's rule
    (`utcoffset()` None), though its `tzinfo` is set."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "nowhere"


async def test_a_clock_whose_times_have_no_offset_is_refused_as_before(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # A clock (and so a valid time: the command names none) whose times' JSON form would carry
    # no offset, which no reader decodes: refused as `records.seal` refuses it, nothing stored.
    offsetless = FixedClock(fixed_clock.now().replace(tzinfo=NoOffset()))
    store = EventStore(nats_client, offsetless, signers={LEDGER.name: EventSigner(new_seed())})
    svc = CommandService(LEDGER, store, offsetless, ROUTES, EVENT_TYPES)
    await svc.start()

    refused = await send(svc, RecordEntries(command_id="tz-1", ledger_id="tz", amounts=[1]))

    assert isinstance(refused, CommandRejected)
    assert refused.code == "INTERNAL_ERROR"  # as when `records.seal` refused it
    assert (await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "tz")).events == ()


def test_a_valid_time_without_offset_is_no_commands_valid_time() -> None:
    # The command path cannot carry one: a command (as an envelope) refuses it when made.
    at = datetime(2026, 3, 1, 12, tzinfo=NoOffset())
    with pytest.raises(ValueError, match="timezone"):
        RecordEntries(command_id="tz-2", ledger_id="tz", amounts=[1], occurred_at=at)
