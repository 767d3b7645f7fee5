"""Histories for the audit tests, from the facts in DOMAIN.md (0800-2000 Veilig Thuis).

Organisation codes other than CBS codes are illustrative, not real registrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import REGISTRY, BoundedContext
from eventstore.clock import FixedClock
from eventstore.hashing import envelope_hash
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent

AMS = ZoneInfo("Europe/Amsterdam")
LNVT = "KVK-70000001"
KPN = "KVK-27124701"
TENDER = "LNVT-0800-2000"
RECORDED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # the history was loaded after the fact


def on(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=AMS)


@dataclass(frozen=True)
class Fact:
    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime


LNVT_TENDER: list[Fact] = [
    Fact(
        "TenderPlanned",
        {
            "tender_id": TENDER,
            "title": "0800-2000 Veilig Thuis telephony",
            "contracting_authority": LNVT,
            "procedure": "open",
            "framework": False,
            "lots": [{"lot_id": "L1", "title": "0800-2000 number and routing"}],
            "planned_on": "2020-08-20",
        },
        on(date(2020, 8, 20)),
    ),
    Fact(
        "TenderPublished",
        {
            "tender_id": TENDER,
            "published_on": "2020-09-18",
            "notice_reference": "TN-2020-0918",
            "participant_list_frozen_on": "2020-09-17",
        },
        on(date(2020, 9, 18)),
    ),
    Fact(
        "ProvisionalAwardDecided",
        {
            "tender_id": TENDER,
            "lot_id": "L1",
            "supplier_ids": [KPN],
            "decision_sent_on": "2020-11-13",
            "standstill_ends_on": "2020-12-03",
        },
        on(date(2020, 11, 13)),
    ),
    Fact(
        "AwardMadeDefinitive",
        {"tender_id": TENDER, "lot_id": "L1", "supplier_ids": [KPN], "awarded_on": "2020-12-07"},
        on(date(2020, 12, 7)),
    ),
]


def chain(
    aggregate: str,
    facts: list[tuple[Fact, datetime]],
    *,
    context: str = "registry",
    actor: str = "coordinator:lnvt",
) -> list[EventEnvelope]:
    """Sealed envelopes as the event store would write them (hash-chained, versioned)."""
    aggregate_type, aggregate_id = aggregate.split("/")
    out: list[EventEnvelope] = []
    prev: str | None = None
    for version, (fact, recorded_at) in enumerate(facts, start=1):
        fields: dict[str, Any] = {
            "event_id": f"{aggregate_id}-{version}",
            "event_type": fact.event_type,
            "schema_version": 1,
            "context": context,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "aggregate_version": version,
            "occurred_at": fact.occurred_at,
            "recorded_at": recorded_at,
            "actor": actor,
            "command_id": f"cmd-{aggregate_id}-{version}",
            "correlation_id": f"cmd-{aggregate_id}-{version}",
            "causation_id": None,
            "prev_hash": prev,
            "payload": fact.payload,
        }
        as_json = EventEnvelope.model_construct(**fields, hash="").model_dump(mode="json")
        fields["hash"] = envelope_hash(as_json)
        envelope = EventEnvelope.model_validate(fields)
        out.append(envelope)
        prev = envelope.hash
    return out


async def record(
    store: EventStore,
    clock: FixedClock,
    aggregate: str,
    facts: list[tuple[Fact, datetime]],
    *,
    context: BoundedContext = REGISTRY,
) -> list[StoredEvent]:
    """Append through the real event store, one command per fact, at the given record times."""
    await store.ensure_stream(context)
    aggregate_type, aggregate_id = aggregate.split("/")
    stored: list[StoredEvent] = []
    for fact, recorded_at in facts:
        clock.set(recorded_at)
        history = await store.load(context, aggregate_type, aggregate_id)
        command_id = f"{aggregate_id}-{history.version + 1}"
        stored += await store.append(
            history,
            [NewEvent(fact.event_type, 1, fact.payload, fact.occurred_at)],
            CommandMetadata(command_id, "coordinator:lnvt", command_id),
        )
    return stored


def spaced(facts: list[Fact], start: datetime = RECORDED) -> list[tuple[Fact, datetime]]:
    return [(f, start + timedelta(seconds=i)) for i, f in enumerate(facts)]


# Two lots: L1 awarded definitively, L2 only provisionally (the tender is not yet awarded).
TWO_LOTS: list[Fact] = [
    Fact(
        "TenderPlanned",
        {
            **LNVT_TENDER[0].payload,
            "lots": [
                {"lot_id": "L1", "title": "0800-2000 number and routing"},
                {"lot_id": "L2", "title": "Call recording"},
            ],
        },
        LNVT_TENDER[0].occurred_at,
    ),
    *LNVT_TENDER[1:],
    Fact(
        "ProvisionalAwardDecided",
        {
            "tender_id": TENDER,
            "lot_id": "L2",
            "supplier_ids": [KPN],
            "decision_sent_on": "2020-12-10",
            "standstill_ends_on": "2020-12-30",
        },
        on(date(2020, 12, 10)),
    ),
]
