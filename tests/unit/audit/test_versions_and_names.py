"""Row-version derivation and naming aggregates on the command line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from audit.aggregates import parse_aggregate
from audit.versions import derive_versions
from tests.support.audit_facts import Fact, chain, on

K = datetime(2024, 1, 1, tzinfo=UTC)
OPENED = Fact(
    "EnrolmentWindowOpened",
    {"tender_id": "GT-MC1", "lot_ids": ["L1"], "opens_on": "2015-01-15", "closes_on": "2015-05-01"},
    on(date(2015, 1, 15)),
)
EXTENDED = Fact(
    "EnrolmentWindowExtended",
    {"tender_id": "GT-MC1", "closes_on": "2015-05-31", "previous_closes_on": "2015-05-01"},
    on(date(2015, 4, 20)),
)
ENROLLED = Fact(
    "ParticipantEnrolled",
    {
        "tender_id": "GT-MC1",
        "organisation_code": "GM0363",
        "lot_ids": ["L1"],
        "power_of_attorney_ref": "VM-1",
        "enrolled_on": "2015-02-01",
    },
    on(date(2015, 2, 1)),
)


def test_versions_are_valid_from_each_fact_to_the_next() -> None:
    envelopes = chain(
        "enrolment_window/GT-MC1", [(OPENED, K), (ENROLLED, K), (EXTENDED, K)], context="enrolment"
    )
    versions = derive_versions("enrolment_window", "GT-MC1", envelopes)
    # Valid time is a Dutch day: each version starts at Dutch midnight (UTC text, CET/CEST).
    assert [(v.valid_from[:13], (v.valid_to or "")[:13]) for v in versions] == [
        ("2015-01-14T23", "2015-01-31T23"),
        ("2015-01-31T23", "2015-04-19T22"),
        ("2015-04-19T22", ""),
    ]
    participant = json.loads(versions[1].state)["participants"]["GM0363"]
    assert participant == participant | {
        "lot_ids": ["L1"],
        "power_of_attorney_ref": "VM-1",
        "status": "enrolled",
    }


def test_a_backdated_event_slots_in_by_valid_time_whatever_its_arrival_order() -> None:
    in_order = chain(
        "enrolment_window/GT-MC1", [(OPENED, K), (ENROLLED, K), (EXTENDED, K)], context="enrolment"
    )
    late = chain(
        "enrolment_window/GT-MC1", [(OPENED, K), (EXTENDED, K), (ENROLLED, K)], context="enrolment"
    )
    assert derive_versions("enrolment_window", "GT-MC1", late) == derive_versions(
        "enrolment_window", "GT-MC1", in_order
    )


def test_an_event_that_changes_nothing_adds_no_version() -> None:
    again = Fact(
        "EnrolmentWindowExtended",
        {"tender_id": "GT-MC1", "closes_on": "2015-05-01", "previous_closes_on": "2015-05-01"},
        on(date(2015, 3, 1)),
    )
    versions = derive_versions(
        "enrolment_window",
        "GT-MC1",
        chain("enrolment_window/GT-MC1", [(OPENED, K), (again, K)], context="enrolment"),
    )
    assert len(versions) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tender/LNVT-0800-2000", ("registry", "tender", "LNVT-0800-2000")),
        ("organisation/GM0363", ("enrolment", "organisation", "GM0363")),
        ("notifier/expiry_schedule/GT-MC1", ("notifier", "expiry_schedule", "GT-MC1")),
    ],
)
def test_aggregates_are_named_by_type_or_context_and_type(text: str, expected: tuple) -> None:
    assert parse_aggregate(text) == expected


@pytest.mark.parametrize("text", ["tender", "tenders/X", "nowhere/tender/X", "registry/tender/"])
def test_a_bad_aggregate_name_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="write <type>/<id>"):
        parse_aggregate(text)


def test_the_temporal_projection_reads_every_event_of_its_contexts_through_a_fold() -> None:
    from audit.temporal import TemporalProjection

    assert TemporalProjection().undeclared() == set()
