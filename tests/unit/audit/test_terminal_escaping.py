"""The audit CLI never prints raw control characters from stored data to a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from audit.bitemporal import Horizon
from audit.history import Replay, TimelineEntry
from audit.render import print_replay
from contracts_schema.envelope import EventEnvelope

# Stored before the input bounds existed: NUL, an ANSI colour, a right-to-left override.
HOSTILE = "KPN\x00 \x1b[31mB.V.\x1b[0m \u202eelif.exe [bold]markup[/]"


def test_given_hostile_stored_names_when_replayed_then_they_are_escaped() -> None:
    at = datetime(2015, 1, 5, 12, tzinfo=UTC)
    envelope = EventEnvelope(
        event_id="e1",
        event_type="OrganisationRegistered",
        schema_version=1,
        context="enrolment",
        aggregate_type="organisation",
        aggregate_id="KVK-02045200",
        aggregate_version=1,
        occurred_at=at,
        recorded_at=at,
        actor=f"coordinator{HOSTILE}",
        command_id="c1",
        correlation_id="c1",
        prev_hash=None,
        hash="0" * 64,
        payload={"code": "KVK-02045200", "name": HOSTILE, "kind": "supplier"},
    )
    replay = Replay(
        "organisation",
        "KVK-02045200",
        Horizon(at, at),
        {"name": HOSTILE},
        (TimelineEntry(envelope, f"registered as {HOSTILE}", ()),),
    )
    out = io.StringIO()
    print_replay(Console(file=out, force_terminal=False, color_system=None, width=200), replay)
    text = out.getvalue()
    for raw in ("\x00", "\x1b", "\u202e"):
        assert raw not in text
    assert "\\x1b[31mB.V." in text  # shown as an escape, visibly
    assert "\\u202e" in text
    assert "[bold]markup[/]" in text  # stored text is never taken for rich markup
