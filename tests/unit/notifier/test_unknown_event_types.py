"""A subscription naming event types that do not exist is refused naming them, bounded: the
refusal echoed every unknown name at any length (attack9: a megabyte of eventTypes came back
in the error)."""

from __future__ import annotations

import pytest

from contracts_schema.errors import RuleViolation
from contracts_schema.notifier.commands import SubscribeWebhook
from notifier.domain.deciders import Subscription, decide_subscribe


def refusal(event_types: list[str]) -> str:
    command = SubscribeWebhook(
        command_id="s1",
        subscription_id="sub-1",
        organisation_code="GM0363",
        url="https://example.org/hook",
        event_types=event_types,
    )
    with pytest.raises(RuleViolation) as refused:
        decide_subscribe(Subscription(), command, None)
    assert refused.value.code == "UNKNOWN_EVENT_TYPE"
    return refused.value.message


def test_an_unknown_type_is_named() -> None:
    assert "no integration event type nl.gt.nope.v1;" in refusal(["nl.gt.nope.v1"])


def test_the_names_echoed_are_bounded_in_length_and_number() -> None:
    long = refusal(["x" * 100_000])
    assert len(long) < 2_000, len(long)
    assert "x" * 80 + "...;" in long
    many = refusal([f"nl.gt.nope{i}.v1" for i in range(50)])
    assert len(many) < 2_000, len(many)
    assert "nl.gt.nope12.v1 (and 45 more);" in many
