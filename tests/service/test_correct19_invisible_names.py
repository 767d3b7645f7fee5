"""correct19: a name holding an invisible character (zero width space, word joiner, byte order
mark, soft hyphen) reads exactly like another name in every view and export: "Gemeente
Amsterdam" with U+200B is a second organisation nobody can tell from the first. The bounds
(`contracts_schema.bounds._INVISIBLE`) refuse them in commands, beside bidi controls and Cc."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on InvalidInput { message } } }"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=False) as g:
        yield g


@pytest.mark.parametrize(
    "char", ["\u200b", "\u2060", "\ufeff", "\u00ad"], ids=lambda c: f"U+{ord(c):04X}"
)
async def test_a_name_with_an_invisible_character_is_refused(gateway: Gateway, char: str) -> None:
    given = {"code": "KVK-12345678", "name": f"Leverancier{char}BV", "kind": "SUPPLIER"}
    body = await gateway.query(REGISTER, {"i": given}, token=gateway.token("coordinator"))
    result = body["data"]["registerOrganisation"]
    assert result["__typename"] == "InvalidInput", body
    assert f"U+{ord(char):04X}" in result["message"], body
