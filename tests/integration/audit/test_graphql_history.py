"""The history fields over GraphQL: asOf / knownAt, timelines, lists, OCDS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import strawberry
from nats.aio.client import Client as NATS

from audit.graphql import AuditQuery, AuditSources
from audit.ocds.schemas import errors
from audit.temporal import TemporalProjection
from contracts_schema.subjects import ENROLMENT
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import EventStore
from tests.support.audit_facts import KPN, LNVT_TENDER, RECORDED, TENDER, record, spaced

SCHEMA = strawberry.Schema(query=AuditQuery)


@dataclass
class Context:
    audit: AuditSources


HISTORY = """
query ($aggregate: String!, $asOf: Date, $knownAt: DateTime) {
  history(aggregate: $aggregate, asOf: $asOf, knownAt: $knownAt) {
    exists state
    timeline { eventType occurredAt recordedAt actor summary changes { path after } }
    fieldHistory { path versions }
  }
}"""


async def setup(nc: NATS, clock: FixedClock, tmp_path: Path) -> Context:
    store = EventStore(nc, clock)
    await store.ensure_stream(ENROLMENT)
    stored = await record(store, clock, f"tender/{TENDER}", spaced(LNVT_TENDER))
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    runner = ProjectionRunner(nc, engine, TemporalProjection())
    await runner.start()
    assert await runner.wait_until({"REGISTRY": stored[-1].seq}, timeout=120)
    await runner.stop()
    return Context(AuditSources(store, engine))


async def test_history_as_of_and_known_at(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    context = await setup(nats_client, fixed_clock, tmp_path)
    variables = {"aggregate": f"tender/{TENDER}", "asOf": "2020-11-20"}
    result = await SCHEMA.execute(HISTORY, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    history = result.data["history"]
    [lot] = history["state"]["lots"]
    assert (lot["status"], lot["supplier_ids"], lot["standstill_ends_on"]) == (
        "provisionally_awarded",
        [KPN],
        "2020-12-03",
    )
    assert history["state"]["phase"] == "provisionally_awarded"
    assert [t["eventType"] for t in history["timeline"]] == [
        "TenderPlanned",
        "TenderPublished",
        "ProvisionalAwardDecided",
    ]
    assert history["timeline"][2]["recordedAt"].startswith("2026-01-15")

    variables["asOf"] = "2021-01-01"
    result = await SCHEMA.execute(HISTORY, variable_values=variables, context_value=context)
    assert result.data["history"]["state"]["lots"][0]["status"] == "awarded"

    variables["knownAt"] = (RECORDED - timedelta(seconds=1)).isoformat()
    result = await SCHEMA.execute(HISTORY, variable_values=variables, context_value=context)
    assert result.data["history"]["exists"] is False
    assert result.data["history"]["timeline"] == []


async def test_entities_as_of_lists_from_row_versions(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    context = await setup(nats_client, fixed_clock, tmp_path)
    query = """query ($asOf: Date, $knownAt: DateTime) {
      entitiesAsOf(aggregateType: "tender", asOf: $asOf, knownAt: $knownAt) { aggregateId state } }"""
    result = await SCHEMA.execute(
        query, variable_values={"asOf": "2020-11-20"}, context_value=context
    )
    [tender] = result.data["entitiesAsOf"]
    assert tender["state"]["lots"][0]["status"] == "provisionally_awarded"
    before = {"asOf": "2021-01-01", "knownAt": "2026-01-14T00:00:00Z"}
    result = await SCHEMA.execute(query, variable_values=before, context_value=context)
    assert result.data["entitiesAsOf"] == []


async def test_ocds_field_returns_valid_packages(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    context = await setup(nats_client, fixed_clock, tmp_path)
    result = await SCHEMA.execute(f'{{ ocds(tenderId: "{TENDER}") }}', context_value=context)
    assert result.errors is None, result.errors
    built = result.data["ocds"]
    assert errors(built["release_package"], "release-package-schema.json") == []
    assert errors(built["record_package"], "record-package-schema.json") == []


async def test_ocds_of_an_unknown_tender_or_before_it_existed_is_a_clear_error(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    # Regression: these returned packages with `releases: []`, which fail the schema.
    context = await setup(nats_client, fixed_clock, tmp_path)
    for query in (
        '{ ocds(tenderId: "NOPE") }',
        f'{{ ocds(tenderId: "{TENDER}", asOf: "2020-08-19") }}',  # planned 2020-08-20
    ):
        result = await SCHEMA.execute(query, context_value=context)
        assert result.data is None or result.data["ocds"] is None
        [error] = result.errors
        assert "no OCDS process to export" in error.message, error.message
    result = await SCHEMA.execute(
        f'{{ ocds(tenderId: "{TENDER}", asOf: "2020-08-20") }}', context_value=context
    )
    assert result.errors is None, result.errors
    [release] = result.data["ocds"]["release_package"]["releases"]
    assert release["tag"] == ["planning"]


async def test_ocds_package_uri_names_the_request_that_answers_it(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    context = await setup(nats_client, fixed_clock, tmp_path)
    known = "2026-01-15T13:00:00+00:00"
    result = await SCHEMA.execute(
        f'{{ ocds(tenderId: "{TENDER}", knownAt: "{known}") }}', context_value=context
    )
    package = result.data["ocds"]["release_package"]
    url = urlsplit(package["uri"])
    [query] = parse_qs(url.query)["query"]
    assert url.path == "/graphql"
    assert query == f'{{ ocds(tenderId: "{TENDER}", knownAt: "{known}") }}'
    again = await SCHEMA.execute(query, context_value=context)
    assert again.data["ocds"]["release_package"] == package  # it answers the same bytes
    assert package["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"


async def test_bad_arguments_get_clear_errors(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    context = await setup(nats_client, fixed_clock, tmp_path)
    result = await SCHEMA.execute(
        '{ history(aggregate: "tenders/X") { exists } }', context_value=context
    )
    assert "cannot read aggregate 'tenders/X'" in result.errors[0].message
    result = await SCHEMA.execute(
        '{ entitiesAsOf(aggregateType: "tender", first: 0) { aggregateId } }', context_value=context
    )
    assert "first must be between 1 and 500" in result.errors[0].message
    result = await SCHEMA.execute(
        '{ history(aggregate: "tender/X", knownAt: "2026-01-01T00:00:00") { exists } }',
        context_value=context,
    )
    assert "knownAt needs a timezone" in result.errors[0].message
