"""correct21: an id argument longer than any id a command takes is refused, naming it.

A 100,000-character `tenderId` (and every other id argument of the read side) answered null or
an empty page, after a database read for it (correct20). Commands take ids of at most 128
characters (`contracts_schema.base.ID_MAX`), so such an id names nothing: it is refused as
INVALID_ARGUMENT naming the argument, for anonymous and signed-in clients alike, on the ordinary
path and on the compiled plans' (`contract`, `events`). An id of 128 characters that names
nothing is still null or an empty page. Through the gateway's HTTP interface, in memory.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    build_schema,
    get_named_type,
)

from contracts_schema.base import ID_MAX
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from gateway.app import build_app
from gateway.history.sources import audit_sources
from gateway.schema.arguments import AGGREGATE_ARGUMENTS, ID_ARGUMENTS, ID_INPUT_FIELDS
from gateway.sdl import DEFAULT_OUT
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

LONG = "x" * 100_000
JUST = "x" * ID_MAX  # as long as an id may be: names nothing here, and is not refused

# (name, query, the argument the refusal names); $v is the id.
ASKED = [
    ("tender", "query($v: String!) { tender(tenderId: $v) { title } }", "tenderId"),
    ("contract", "query($v: String!) { contract(contractId: $v) { title } }", "contractId"),
    ("organisation", "query($v: String!) { organisation(code: $v) { name } }", "code"),
    ("supplier", "query($v: String!) { supplier(supplierId: $v) { name } }", "supplierId"),
    (
        "tenders-programme",
        "query($v: String) { tenders(filter: {programmeId: $v}) { totalCount } }",
        "filter.programmeId",
    ),
    (
        "tenders-authority",
        "query($v: String) { tenders(filter: {contractingAuthority: $v}) { totalCount } }",
        "filter.contractingAuthority",
    ),
    (
        "contracts-supplier",
        "query($v: String) { contracts(filter: {supplierId: $v}) { totalCount } }",
        "filter.supplierId",
    ),
    (
        "contracts-buyer",
        "query($v: String) { contracts(filter: {buyer: $v}) { totalCount } }",
        "filter.buyer",
    ),
    (
        "contracts-tender",
        "query($v: String) { contracts(filter: {tenderId: $v}) { totalCount } }",
        "filter.tenderId",
    ),
    (
        "call-offs",
        "query($v: String) { callOffs(filter: {frameworkContractId: $v}) { totalCount } }",
        "filter.frameworkContractId",
    ),
    (
        "events-aggregate",
        "query($v: String) { events(filter: {aggregateId: $v}) { totalCount } }",
        "filter.aggregateId",
    ),
    (
        "events-organisation",
        "query($v: String) { events(filter: {organisationCode: $v}) { totalCount } }",
        "filter.organisationCode",
    ),
    (
        "law-findings",
        "query($v: String) { lawFindings(filter: {contractId: $v}) { totalCount } }",
        "filter.contractId",
    ),
    (
        "participation",
        "query($v: String) { statistics { participationByProgramme(programmeId: $v)"
        " { __typename } } }",
        "programmeId",
    ),
    (
        "participation-province",
        "query($v: String) { statistics { participationByProgrammeAndProvince(programmeId: $v)"
        " { __typename } } }",
        "programmeId",
    ),
    ("ocds", "query($v: String!) { ocds(tenderId: $v) }", "tenderId"),
    ("history", "query($v: String!) { history(aggregate: $v) { exists } }", "aggregate"),
]
# Not public: FORBIDDEN to an anonymous client (after a long id is refused: the id first).
SIGNED_IN = {"call-offs", "events-aggregate", "events-organisation", "history"}
WHO = ["anonymous", "coordinator", "auditor"]


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        # The audit's fields (history, ocds) answer from the store, as `make run` serves them.
        assert g.read is not None
        assert g.client is not None
        await g.client.aclose()
        app = build_app(g.read, g.settings, audit=audit_sources(store, g.engine))  # type: ignore[arg-type]
        g.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )
        yield g


def _value(name: str, id_: str) -> str:
    return f"tender/{id_}" if name == "history" else id_


async def _ask(g: Gateway, who: str, query: str, value: str) -> Any:
    token = None if who == "anonymous" else g.token(who)
    return await g.query(query, {"v": value}, token=token)


@pytest.mark.parametrize("who", WHO)
async def test_every_id_argument_longer_than_an_id_is_refused_naming_it(
    gateway: Gateway, who: str
) -> None:
    # Before: {"tender": null}, {"totalCount": 0}, ... (and `history`/`ocds` went to the store).
    for name, query, argument in ASKED:
        body = await _ask(gateway, who, query, _value(name, LONG))
        errors = body.get("errors") or []
        assert [e.get("extensions", {}).get("code") for e in errors] == ["INVALID_ARGUMENT"], (
            name,
            body,
        )
        message = errors[0]["message"]
        assert message.startswith(f"`{argument}` is "), (name, message)
        assert str(ID_MAX) in message, (name, message)
        assert len(message) < 200, (name, message)


@pytest.mark.parametrize("who", WHO)
async def test_an_id_as_long_as_an_id_may_be_is_still_asked(gateway: Gateway, who: str) -> None:
    for name, query, _ in ASKED:
        if name == "ocds" or (who == "anonymous" and name in SIGNED_IN):
            continue  # an unknown process, a list not public: refused for what they are
        body = await _ask(gateway, who, query, _value(name, JUST))
        assert "errors" not in body, (name, body)
    # And a real id reads as before, on both paths (the compiled plan answers `contract`).
    body = await _ask(
        gateway,
        who,
        "query($v: String!) { contract(contractId: $v) { title } }",
        "gt-mc1-framework",
    )
    assert body["data"]["contract"] is not None, body


async def test_a_literal_long_id_is_refused_too(gateway: Gateway) -> None:
    # A literal (no variable) is read once per document by the compiled plan: the same check.
    long = "y" * (ID_MAX + 1)
    for query, argument in [
        (f'{{ contract(contractId: "{long}") {{ title }} }}', "contractId"),
        (f'{{ events(filter: {{aggregateId: "{long}"}}) {{ totalCount }} }}', "filter.aggregateId"),
    ]:
        body = await gateway.query(query, token=gateway.token("coordinator"))
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_ARGUMENT", body
        assert error["message"] == (
            f"`{argument}` is {ID_MAX + 1} characters long; an id is at most {ID_MAX} characters"
        )


async def test_a_node_id_longer_than_any_is_refused(gateway: Gateway) -> None:
    long_node = base64.b64encode(f"Tender:{LONG}".encode()).decode()
    known = base64.b64encode(b"Tender:gt-mc1").decode()
    query = "query($v: ID!) { node(id: $v) { id } }"
    for who in ("anonymous", "coordinator"):
        body = await _ask(gateway, who, query, long_node)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_ARGUMENT", body
        assert error["message"].startswith("`id` names a node id 100000 characters long")
        assert (await _ask(gateway, who, query, known))["data"]["node"] == {"id": known}


def test_every_string_argument_of_the_read_side_is_classified() -> None:
    """A new id argument (or filter field) must join the tables in gateway.schema.arguments:
    each String/ID argument of a query, subscription or statistic is an id or listed here."""
    not_ids = {
        "after",  # a cursor (its own checks)
        "consistencyToken",  # a token (its own checks)
        "province",  # a province's name (refused unless one of the twelve)
        "search",  # a part of a name
        "aggregateType",  # a type's name (refused unless known)
        "eventTypes",  # event type names
        "code",  # LawFindingFilter's finding codes (Query.organisation's `code` is an id)
        "id",  # node's global id (checked in its resolver)
    }
    schema = build_schema(DEFAULT_OUT.read_text())
    unclassified: list[str] = []
    for kind in schema.type_map.values():
        if not isinstance(kind, GraphQLObjectType) or kind is schema.mutation_type:
            continue
        for field_name, field in kind.fields.items():
            ids = {*ID_ARGUMENTS.get((kind.name, field_name), ())}
            ids |= {AGGREGATE_ARGUMENTS.get((kind.name, field_name))} - {None}
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                if isinstance(named, GraphQLInputObjectType):
                    for inner_name, inner in named.fields.items():
                        if get_named_type(inner.type).name not in ("String", "ID"):
                            continue
                        if inner_name not in (*ID_INPUT_FIELDS.get(named.name, ()), *not_ids):
                            unclassified.append(f"{named.name}.{inner_name}")
                elif named.name in ("String", "ID") and arg_name not in ids | not_ids:
                    unclassified.append(f"{kind.name}.{field_name}({arg_name})")
    assert unclassified == []
