"""correct19: a consistency token's sequence in digits other than ASCII 0-9.

`parse_consistency_token` checks `str.isdigit()`, which holds for superscripts, fullwidth and
Arabic-Indic digits: `REGISTRY:²` answers Python's own "invalid literal for int() with base
10" (a vague error), `REGISTRY:１` (fullwidth) and `REGISTRY:١` are taken as REGISTRY:1 without
a word, and `,` (no part at all) waits for nothing. A token the gateway never issued should be
refused naming the form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

PROBE = 'query($t: String) { tender(tenderId: "gt-mc1", consistencyToken: $t) { title } }'


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=False) as g:
        yield g


@pytest.mark.parametrize(
    "token",
    ["REGISTRY:\u00b2", "REGISTRY:\uff11", "REGISTRY:\u0661", ","],
    ids=["superscript", "fullwidth", "arabic-indic", "empty-parts"],
)
async def test_a_token_not_in_ascii_digits_is_refused_naming_the_form(
    gateway: Gateway, token: str
) -> None:
    body = await gateway.query(PROBE, {"t": token}, token=gateway.token("coordinator"))
    errors = body.get("errors") or []
    assert [e.get("extensions", {}).get("code") for e in errors] == ["INVALID_CONSISTENCY_TOKEN"], (
        body
    )
    assert "STREAM:seq" in errors[0]["message"], body
