"""The command metric's outcome label, read from the reply the service sends."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.observability import observe_command


def _count(command_type: str, outcome: str) -> float:
    labels = {"service": "outcome-test", "command_type": command_type, "outcome": outcome}
    return REGISTRY.get_sample_value("gt_command_duration_seconds_count", labels) or 0.0


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (
            CommandAccepted(command_id="c-1", events=[], consistency_token="t").model_dump_json(),
            "accepted",
        ),
        (
            CommandRejected(
                command_id="c-2", code="CONTRACT_ID_TAKEN", message="taken"
            ).model_dump_json(),
            "CONTRACT_ID_TAKEN",
        ),
        (
            CommandRejected(
                command_id=None, code="INVALID_COMMAND", message="bad"
            ).model_dump_json(),
            "INVALID_COMMAND",
        ),
        # A refusal whose message quotes an accepted reply is still a refusal.
        (
            CommandRejected(
                command_id="c-3", code="X_Y", message='{"status":"accepted"}'
            ).model_dump_json(),
            "X_Y",
        ),
        ('{ "status": "accepted" }', "accepted"),
        ('{"status":"imported","command_id":"b-1","releases":[]}', "imported"),
        ("not json", "unparsable_reply"),
        ("[1, 2]", "unparsable_reply"),
    ],
)
async def test_each_reply_is_counted_under_its_outcome(reply: str, outcome: str) -> None:
    command_type = f"T{abs(hash(reply)) % 10**8}"
    before = _count(command_type, outcome)

    async def handle() -> bytes:
        return reply.encode()

    sent = await observe_command("outcome-test", f"x.commands.{command_type}", {}, b"{}", handle)

    assert sent == reply.encode()
    assert _count(command_type, outcome) == before + 1
