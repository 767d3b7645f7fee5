"""review13: the request deadline follows the body limit an operator sets, so an upload of
the size the gateway accepts is given the time a slow link needs (30 s covered the default
256 KiB only; GT_MAX_BODY_BYTES could be raised while the deadline stayed)."""

from __future__ import annotations

from gateway.deadline import DEFAULT_DEADLINE, SLOWEST_LINK, deadline_for
from gateway.settings import GatewaySettings


def test_the_default_body_limit_keeps_the_default_deadline() -> None:
    assert deadline_for(GatewaySettings().max_body_bytes) == DEFAULT_DEADLINE


def test_a_raised_body_limit_raises_the_deadline_to_what_a_slow_link_needs() -> None:
    ten_mib = 10 * 1024 * 1024
    assert deadline_for(ten_mib) == ten_mib / SLOWEST_LINK
    assert deadline_for(ten_mib) > DEFAULT_DEADLINE
