"""The catch-up reads a message's stream sequence off its reply subject; the answer is
nats-py's own (`msg.metadata`) for both forms of the JetStream reply subject, and the v1 form
is read without nats-py's full parse."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from eventstore.catchup import stream_sequence

V1 = [
    # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
    ("$JS.ACK.REGISTRY.abc123.1.4567.12.1733000000000000000.0", 4567),
    ("$JS.ACK.ENROLMENT.x.3.1.1.1733000000000000001.19999", 1),
]
V2 = [
    # with the domain (`_`: none), the account hash and a trailing token: left to nats-py
    ("$JS.ACK._.ACCHASH.REGISTRY.abc123.1.4567.12.1733000000000000000.0.tok", 4567),
    ("$JS.ACK.hub.ACCHASH.REGISTRY.abc123.2.98765.77.1733000000000000000.5.tok", 98765),
]


def _message(reply: str) -> Msg:
    return Msg(None, subject="registry.events.x", reply=reply)  # type: ignore[arg-type]


@pytest.mark.parametrize(("reply", "sequence"), V1 + V2)
def test_the_stream_sequence_is_the_subjects_and_nats_py_s(reply: str, sequence: int) -> None:
    assert stream_sequence(_message(reply)) == sequence
    assert _message(reply).metadata.sequence.stream == sequence


@pytest.mark.parametrize(("reply", "sequence"), V1)
def test_a_v1_subject_is_read_without_nats_py_s_parse(reply: str, sequence: int) -> None:
    msg = _message(reply)
    assert stream_sequence(msg) == sequence
    assert msg._metadata is None  # nats-py's parse, cached on first use, was never made


def test_a_message_that_is_not_from_jetstream_is_refused_as_nats_py_refuses_it() -> None:
    with pytest.raises(NotJSMessageError, match="not a JetStream message"):
        stream_sequence(_message("_INBOX.abc.1"))
