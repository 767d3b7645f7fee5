"""Organisations: municipalities (CBS code), other bodies, their renames and mergers; an image
of the enrolment service's organisation fold."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import Column, Date, MetaData, String, Table

from contracts_schema.enrolment.state import OrganisationState
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import ENROLMENT, BoundedContext
from eventstore.bitemporal_sql import versioned_table
from eventstore.timeline import Image
from eventstore.versioned import Reading, VersionedProjection
from gateway.projections.common import reading


class OrganisationsProjection(VersionedProjection):
    name = "organisations"
    version = 2
    contexts: ClassVar[tuple[BoundedContext, ...]] = (ENROLMENT,)
    rebuild_cost: ClassVar[int] = 3  # us/event in a rebuild (bench.rebuild_stages, 100k)
    # Windows, participants and call-offs are EnrolmentProjection's.
    ignored: ClassVar[frozenset[str]] = frozenset(
        m.event_type
        for fold in (FOLDS["enrolment", "enrolment_window"], FOLDS["enrolment", "call_off"])
        for m in fold.events
    )

    def define(self, metadata: MetaData) -> None:
        self.organisations = versioned_table(
            f"{self.key}_organisations",
            metadata,
            Column("code", String(40), nullable=False),
            Column("name", String(300), nullable=False),
            Column("kind", String(60), nullable=False, index=True),
            Column("province", String(80), index=True),
            Column("merged_into", String(40)),
            Column("merged_on", Date),
            key=["code"],
        )

    def versioned(self) -> dict[str, Table]:
        return {"organisations": self.organisations}

    def readings(self) -> dict[str, Reading]:
        return {"organisation": reading(FOLDS["enrolment", "organisation"], organisation_rows)}


def organisation_rows(state: OrganisationState) -> Image:
    if not state.registered:
        return {}
    return {
        ("organisations", (state.code,)): {
            "code": state.code,
            "name": state.name,
            "kind": str(state.kind),
            "province": state.province,
            "merged_into": state.successor_code,
            "merged_on": state.merged_on,
        }
    }
