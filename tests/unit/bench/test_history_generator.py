"""The synthetic history generator: deterministic, sized, and a consistent history."""

from __future__ import annotations

import re

from pydantic import ValidationError

from bench.history.generator import generate
from bench.history.model import history_digest
from bench.history.organisations import load_municipalities
from contracts_schema.base import ID_PATTERN
from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.upcasting import decode


def test_same_seed_gives_the_same_events() -> None:
    first = generate(seed=7, events=5_000)
    second = generate(seed=7, events=5_000)
    assert first.digest() == second.digest()
    assert history_digest(first.commits) == history_digest(second.commits)


def test_another_seed_gives_another_history() -> None:
    assert generate(seed=7, events=5_000).digest() != generate(seed=8, events=5_000).digest()


def test_history_has_the_requested_size_and_every_kind_of_fact() -> None:
    history = generate(seed=1, events=10_000)
    counts = history.counts_by_type()
    assert history.event_count == 10_000
    assert counts["OrganisationRegistered"] >= 342 + 100  # municipalities, other bodies, suppliers
    for kind in (
        "TenderPlanned",
        "ParticipantEnrolled",
        "ParticipantListFrozen",
        "TenderPublished",
        "ProvisionalAwardDecided",
        "AwardMadeDefinitive",
        "ContractSigned",
        "CallOffAwarded",
        "ContractAmended",
        "ContractExtended",
        "ContractExpired",
        "MunicipalityMerged",
    ):
        assert counts.get(kind, 0) > 0, kind


def test_all_342_municipalities_are_registered() -> None:
    history = generate(seed=3, events=10_000)
    registered = {
        e.payload["code"]
        for c in history.commits
        for e in c.events
        if e.event_type == "OrganisationRegistered"
    }
    assert {code for code, _, _ in load_municipalities()} <= registered


def test_commits_are_in_transaction_time_order_with_valid_ids() -> None:
    history = generate(seed=5, events=10_000)
    recorded = [c.recorded_at for c in history.commits]
    assert recorded == sorted(recorded)
    pattern = re.compile(ID_PATTERN)
    assert all(pattern.match(c.aggregate_id) for c in history.commits)
    # Backdated corrections: valid time long before transaction time.
    late = [
        c for c in history.commits for e in c.events if (c.recorded_at - e.occurred_at).days > 30
    ]
    assert late


def test_frozen_list_precedes_publication_of_the_same_tender() -> None:
    history = generate(seed=11, events=10_000)
    frozen_at: dict[str, int] = {}
    for index, commit in enumerate(history.commits):
        for event in commit.events:
            if event.event_type == "ParticipantListFrozen":
                frozen_at[event.payload["tender_id"]] = index
            if event.event_type == "TenderPublished":
                assert frozen_at.get(event.payload["tender_id"], index) < index


def test_every_event_is_valid_under_the_published_contract() -> None:
    history = generate(seed=13, events=12_000)
    problems: dict[str, str] = {}
    for commit in history.commits:
        for event in commit.events:
            model = EVENT_TYPES.get(event.event_type)
            if model is None:
                problems[event.event_type] = "not in the catalogue"
                continue
            assert model.aggregate_type == commit.aggregate_type
            assert model.context == commit.context
            try:
                decode(event.event_type, 1, event.payload)  # the loaders store v1
            except ValidationError as exc:
                problems.setdefault(event.event_type, str(exc))
    assert problems == {}
