"""The catch-up reads a message's stream sequence off its reply subject; the answer is
nats-py's own (`msg.metadata`) for both forms of the JetStream reply subject."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from eventstore.catchup import stream_sequence

REPLIES = [
    # v1: $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
    "$JS.ACK.REGISTRY.abc123.1.4567.12.1733000000000000000.0",
    "$JS.ACK.ENROLMENT.x.3.1.1.1733000000000000001.19999",
    # v2: with the domain (`_`: none), the account hash and a trailing token
    "$JS.ACK._.ACCHASH.REGISTRY.abc123.1.4567.12.1733000000000000000.0.tok",
    "$JS.ACK.hub.ACCHASH.REGISTRY.abc123.2.98765.77.1733000000000000000.5.tok",
]


@pytest.mark.parametrize("reply", REPLIES)
def test_the_stream_sequence_is_nats_py_s(reply: str) -> None:
    msg = Msg(None, subject="registry.events.x", reply=reply)  # type: ignore[arg-type]
    assert stream_sequence(msg) == msg.metadata.sequence.stream
