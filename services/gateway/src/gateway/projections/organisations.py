"""Organisations: municipalities (CBS code), other bodies and their renames and mergers."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import Column, Connection, Date, MetaData, String, Table

from contracts_schema.subjects import ENROLMENT, BoundedContext
from eventstore.projection import Projection, upsert
from eventstore.store import StoredEvent
from gateway.projections.common import day, occurred_on, payload


class OrganisationsProjection(Projection):
    name = "organisations"
    contexts: ClassVar[tuple[BoundedContext, ...]] = (ENROLMENT,)

    def define(self, metadata: MetaData) -> None:
        self.organisations = Table(
            f"{self.key}_organisations",
            metadata,
            Column("code", String(40), primary_key=True),
            Column("name", String(300), nullable=False),
            Column("kind", String(60), nullable=False, index=True),
            Column("province", String(80), index=True),
            Column("registered_on", Date, nullable=False),
            Column("merged_into", String(40)),
            Column("merged_on", Date),
        )

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        p = payload(event)
        t = self.organisations
        match event.envelope.event_type:
            case "OrganisationRegistered":
                upsert(
                    conn,
                    t,
                    {
                        "code": p["code"],
                        "name": p["name"],
                        "kind": p["kind"],
                        "province": p.get("province"),
                        "registered_on": occurred_on(event),
                    },
                    ["code"],
                )
            case "OrganisationRenamed":
                self._update(conn, p["code"], {"name": p["name"]})
            case "MunicipalityMerged":
                self._update(
                    conn,
                    p["code"],
                    {"merged_into": p["successor_code"], "merged_on": day(p["effective_on"])},
                )

    def _update(self, conn: Connection, code: str, values: dict[str, object]) -> None:
        t = self.organisations
        if conn.execute(t.update().where(t.c.code == code).values(**values)).rowcount != 1:
            raise LookupError(f"organisation {code} is not registered")
