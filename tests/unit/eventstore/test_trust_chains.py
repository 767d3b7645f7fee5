"""eventstore.trust.read_range: one verify per hash chain of a catch-up range, and what it
still refuses (docs/security.md, "Signed chains"). Sealed envelopes, no broker needed."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

import pytest

from audit.verify import StreamReport, _check_signatures
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.hashing import json_form_hash
from eventstore.records import (
    AggregateHistory,
    CommandMetadata,
    NewEvent,
    StoredEvent,
    seal,
)
from eventstore.signing import EventSigner, new_seed
from eventstore.trust import (
    BAD_SIGNATURE,
    VERIFY_EVERY_ENV,
    Delivered,
    Trust,
    configured,
    read_event,
    read_range,
)

KEY = EventSigner(new_seed())
OTHER = EventSigner(new_seed())  # another context's key
GARBAGE = base64.b64encode(bytes(64)).decode()
CLOCK = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))


class Counting(Trust):
    """A trust counting the signatures it verifies (the verify itself is the real one)."""

    verified: int = 0

    def _signature_holds(self, envelope: EventEnvelope) -> bool:
        if envelope.signature is not None:
            self.verified += 1
        return super()._signature_holds(envelope)


def trust(every: bool = False, *keys: str) -> Counting:
    counting = Counting({"registry": {k: None for k in keys or (KEY.public_key,)}})
    counting.verify_every_signature = every
    return counting


def chain(
    aggregate: str, count: int, signers: list[EventSigner] | None = None
) -> list[EventEnvelope]:
    """`count` events of one programme, each chained on the one before."""
    history = AggregateHistory(REGISTRY, "programme", aggregate, (), 0)
    envelopes = []
    for i in range(count):
        signer = (signers or [KEY] * count)[i]
        new = NewEvent("ProgrammeRenamed", 1, {"programme_id": aggregate, "n": i}, CLOCK.now())
        envelope = seal(CLOCK, history, [new], CommandMetadata(f"c-{i}", "a", f"c-{i}"), signer)[0]
        envelopes.append(envelope)
        stored = StoredEvent(envelope, REGISTRY.stream, i + 1, "s")
        history = AggregateHistory(REGISTRY, "programme", aggregate, (stored,), i + 1)
    return envelopes


def delivered(envelopes: list[EventEnvelope]) -> list[Delivered]:
    return [
        (f"registry.events.programme.{e.aggregate_id}.{e.event_type}", seq, _bytes(e), None)
        for seq, e in enumerate(envelopes, start=1)
    ]


def _bytes(envelope: EventEnvelope) -> bytes:
    return envelope.model_dump_json().encode()


def refusals(judge: Trust, envelopes: list[EventEnvelope]) -> list[str | None]:
    return [e.refused for e in read_range(judge, REGISTRY.stream, delivered(envelopes))]


def garbage_signature(envelope: EventEnvelope) -> EventEnvelope:
    return envelope.model_copy(update={"signature": GARBAGE})


def resealed(envelope: EventEnvelope) -> EventEnvelope:
    """Its payload edited and its hash recomputed, keeping its (now wrong) signature."""
    edited = envelope.model_copy(update={"payload": {**envelope.payload, "n": 99}})
    return edited.model_copy(update={"hash": json_form_hash(edited.model_dump(mode="json"))})


def test_a_chain_in_a_range_is_verified_once_at_its_last_event() -> None:
    a, b = chain("A", 3), chain("B", 3)
    interleaved = [a[0], b[0], a[1], b[1], b[2], a[2]]
    judge = trust()
    assert refusals(judge, interleaved) == [None] * 6
    assert judge.verified == 2
    every = trust(every=True)
    assert refusals(every, interleaved) == [None] * 6
    assert every.verified == 6


def test_an_intermediate_event_altered_under_a_valid_last_signature_is_refused() -> None:
    events = chain("A", 3)
    # The content edited, the stored hash kept: the hash no longer matches.
    kept_hash = events[1].model_copy(update={"payload": {**events[1].payload, "n": 99}})
    reasons = refusals(trust(), [events[0], kept_hash, events[2]])
    assert reasons[0] is None
    assert reasons[2] is None
    assert reasons[1] == "altered: the stored hash does not match the event's content"
    # The hash recomputed too: the next event's prev_hash names the old hash, so nothing
    # vouches for it, and its own signature is over the old hash.
    judge = trust()
    assert refusals(judge, [events[0], resealed(events[1]), events[2]]) == [
        None,
        BAD_SIGNATURE,
        None,
    ]
    assert judge.verified == 3  # the broken link: each verified on its own


def test_a_garbage_signature_on_a_vouched_event_is_accepted_in_a_range_and_named_by_audit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = chain("A", 3)
    events[1] = garbage_signature(events[1])
    judge = trust()
    # Alone (live delivery, a command-side load) it is refused, as before ...
    alone = read_event(judge, "s", REGISTRY.stream, 2, _bytes(events[1]))
    assert alone.refused == BAD_SIGNATURE
    # ... in a range its content is what the signer of the event after it signed on, so it is
    # taken as fact (the cached verdict above does not change that), and the difference
    # from the live reader's verdict is logged (review12) ...
    with caplog.at_level(logging.WARNING, logger="eventstore.trust"):
        assert refusals(judge, events) == [None, None, None]
    assert [r.getMessage() for r in caplog.records if events[1].event_id in r.getMessage()]
    # ... unless every signature is to be verified,
    assert refusals(trust(every=True), events) == [None, BAD_SIGNATURE, None]
    # and `audit verify` still names the signature.
    report = StreamReport(REGISTRY.stream)
    stored = [StoredEvent(e, REGISTRY.stream, i, "s") for i, e in enumerate(events, start=1)]
    _check_signatures(stored, {KEY.public_key: None}, report)
    assert [(p.kind, p.event_id) for p in report.problems] == [
        ("bad-signature", events[1].event_id)
    ]


def test_a_missing_or_refused_link_leaves_the_earlier_events_verified_on_their_own() -> None:
    events = chain("A", 4)
    events[1] = garbage_signature(events[1])
    # The event after it missing from the range: nothing vouches for it.
    judge = trust()
    assert refusals(judge, [events[0], events[1], events[3]]) == [None, BAD_SIGNATURE, None]
    assert judge.verified == 3
    # The event after it refused (its own signature garbage too): it vouches for nothing.
    last = garbage_signature(events[2])
    assert refusals(trust(), [events[0], events[1], last]) == [None, BAD_SIGNATURE, BAD_SIGNATURE]


def test_a_vouching_event_past_its_keys_retirement_vouches_for_nothing() -> None:
    events = chain("A", 3)
    events[1] = garbage_signature(events[1])
    retired = Trust.of({"registry": {f"{KEY.public_key}@2"}})
    reasons = refusals(retired, events)
    assert reasons[0] is None
    assert reasons[1] == BAD_SIGNATURE
    assert reasons[2] is not None
    assert "retired after REGISTRY seq 2" in reasons[2]


def test_a_vouched_event_is_still_refused_for_its_signer() -> None:
    # Its signer is another context's key, past a retirement, or absent: each refused though
    # a trusted signature later in the chain covers it.
    other = chain("A", 3, [OTHER, KEY, KEY])
    reasons = refusals(trust(), other)
    assert reasons[0] is not None
    assert reasons[0].startswith("untrusted signer: ")
    assert reasons[1:] == [None, None]
    rotated = chain("B", 3, [OTHER, OTHER, KEY])
    bounds = Trust.of({"registry": {f"{OTHER.public_key}@1", KEY.public_key}})
    reasons = refusals(bounds, rotated)
    assert reasons[0] is None
    assert reasons[1] is not None
    assert "retired after REGISTRY seq 1" in reasons[1]
    assert reasons[2] is None


def test_a_fork_and_a_copy_are_judged_on_their_own() -> None:
    events = chain("A", 2)
    # A second version 2 on version 1 with the signer's name but not its key.
    fork = resealed(events[1]).model_copy(update={"event_id": "forged"})
    fork = fork.model_copy(update={"hash": json_form_hash(fork.model_dump(mode="json"))})
    judge = trust()
    assert refusals(judge, [events[0], events[1], fork]) == [None, None, BAD_SIGNATURE]
    # An exact copy of version 1 after the chain: verified on its own (the duplicate check
    # of each reader refuses it, `Duplicates`).
    judge = trust()
    assert refusals(judge, [events[0], events[1], events[0]]) == [None, None, None]
    assert judge.verified == 2


def test_without_signatures_checked_the_range_checks_content_only() -> None:
    events = chain("A", 2)
    events[0] = garbage_signature(events[0])
    assert refusals(Trust(), events) == [None, None]
    off = Trust.of({"registry": {KEY.public_key}}, verify_signatures=False)
    assert refusals(off, events) == [None, None]
    kept_hash = events[1].model_copy(update={"payload": {}})
    assert refusals(Trust(), [events[0], kept_hash])[1] is not None


def test_undecodable_bytes_in_a_range_are_refused_where_they_were_stored() -> None:
    events = chain("A", 2)
    messages = delivered(events)
    messages.insert(1, ("registry.events.programme.A.ProgrammeRenamed", 9, b"{not json", None))
    read = read_range(trust(), REGISTRY.stream, messages)
    assert [e.refused is None for e in read] == [True, False, True]
    assert read[1].refused is not None
    assert read[1].refused.startswith("undecodable: ")
    assert (read[1].seq, read[1].envelope.aggregate_id) == (9, "A")


def test_the_setting_verifies_every_signature() -> None:
    assert not configured(environ={}).verify_every_signature
    assert configured(environ={VERIFY_EVERY_ENV: "true"}).verify_every_signature
    assert not configured(environ={VERIFY_EVERY_ENV: "false"}).verify_every_signature
