"""DataLoaders, created per request: each nested list costs one query, whatever the row count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, func, select, tuple_
from strawberry.dataloader import DataLoader

from gateway.projections import OrganisationsProjection
from gateway.readmodels import KNOWN_NOW, ReadModels, local_date

Row = RowMapping
Loader = Callable[[list[Any]], Awaitable[Sequence[Any]]]


def _one(read: ReadModels, table: Any, column: Any) -> DataLoader[Any, Row | None]:
    async def load(keys: list[Any]) -> list[Row | None]:
        rows = await read.rows(select(table).where(column.in_(keys)))
        found = {row[column.name]: row for row in rows}
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


class ByKey(DataLoader[Any, list[Row]]):
    """Every row by key; `narrow(columns)`: the same rows with only those columns (a loader
    of its own per column set, so a list level still costs one statement per selection)."""

    def __init__(self, make: Callable[[tuple[str, ...] | None], Loader]) -> None:
        super().__init__(load_fn=make(None))
        self._make = make
        self._narrow: dict[tuple[str, ...], DataLoader[Any, list[Row]]] = {}

    def narrow(self, columns: tuple[str, ...] | None) -> DataLoader[Any, list[Row]]:
        if columns is None:
            return self
        found = self._narrow.get(columns)
        if found is None:
            found = self._narrow[columns] = DataLoader(load_fn=self._make(columns))
        return found


def _many(
    read: ReadModels,
    table: Any,
    column: Any,
    *order: ColumnElement[Any],
    only: ColumnElement[bool] | None = None,
) -> ByKey:
    def make(columns: tuple[str, ...] | None) -> Loader:
        async def load(keys: list[Any]) -> list[list[Row]]:
            if columns is None:
                query = select(table)
            else:  # the key groups the rows: always selected
                query = select(*(table.c[c] for c in sorted({column.name, *columns})))
            query = query.where(column.in_(keys))
            if only is not None:
                query = query.where(only)
            rows = await read.rows(query.order_by(*order))
            grouped: dict[Hashable, list[Row]] = defaultdict(list)
            for row in rows:
                grouped[row[column.name]].append(row)
            return [grouped.get(k, []) for k in keys]

        return load

    return ByKey(make)


def _links(read: ReadModels, end: str, other: str) -> DataLoader[tuple[str, str], list[str]]:
    """The ids at the `other` end of the links whose `end` is the key, earliest link first."""

    async def load(keys: list[tuple[str, str]]) -> list[list[str]]:
        t = read.tenders.successions
        rows = await read.rows(
            select(t.c.kind, t.c[end], t.c[other])
            .where(tuple_(t.c.kind, t.c[end]).in_(keys))
            .order_by(t.c.valid_from, t.c[other])
        )
        found: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            ids = found[row["kind"], row[end]]
            if row[other] not in ids:  # declared by both sides
                ids.append(row[other])
        return [found.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, read: ReadModels, enrolments_of: str | None = None) -> None:
        """`enrolments_of`: the one organisation whose enrolments this request may load (a
        participant's own); None loads everyone's (coordinators, auditors). Every path to a
        Participant goes through these loaders, so the restriction holds on all of them."""
        org = read.organisations.organisations
        ten = read.tenders
        con = read.contracts
        enr = read.enrolment
        own = (
            None if enrolments_of is None else enr.participants.c.organisation_code == enrolments_of
        )
        ev = read.event_log.events
        self.organisation = _one(read, org, org.c.code)
        self.programme = _one(read, ten.programmes, ten.programmes.c.programme_id)
        self.tender = _one(read, ten.tenders, ten.tenders.c.tender_id)
        self.contract = _one(read, con.contracts, con.contracts.c.contract_id)
        self.call_off = _one(read, enr.call_offs, enr.call_offs.c.call_off_id)
        self.window = _one(read, enr.windows, enr.windows.c.tender_id)
        self.lots_by_tender = _many(
            read, ten.lots, ten.lots.c.tender_id, ten.lots.c.position, ten.lots.c.lot_id
        )
        self.tenders_by_programme = _many(
            read, ten.tenders, ten.tenders.c.programme_id, ten.tenders.c.tender_id
        )
        self.contracts_by_tender = _many(
            read, con.contracts, con.contracts.c.tender_id, con.contracts.c.contract_id
        )
        self.contracts_by_authority = _many(
            read,
            con.contracts,
            con.contracts.c.contracting_authority,
            con.contracts.c.contract_id,
        )
        self.suppliers_by_contract = _many(
            read, con.suppliers, con.suppliers.c.contract_id, con.suppliers.c.supplier_id
        )
        self.supplier_contracts = _many(
            read, con.suppliers, con.suppliers.c.supplier_id, con.suppliers.c.contract_id
        )
        self.participants_by_tender = _many(
            read,
            enr.participants,
            enr.participants.c.tender_id,
            enr.participants.c.organisation_code,
            only=own,
        )
        self.participants_by_organisation = _many(
            read,
            enr.participants,
            enr.participants.c.organisation_code,
            enr.participants.c.tender_id,
            only=own,
        )
        self.call_offs_by_framework = _many(
            read,
            enr.call_offs,
            enr.call_offs.c.framework_contract_id,
            enr.call_offs.c.call_off_id,
        )
        self.call_offs_by_participant = _many(
            read, enr.call_offs, enr.call_offs.c.participant_code, enr.call_offs.c.call_off_id
        )

        async def load_participants(keys: list[tuple[str, str]]) -> list[Row | None]:
            t = enr.participants
            query = select(t).where(tuple_(t.c.tender_id, t.c.organisation_code).in_(keys))
            rows = await read.rows(query if own is None else query.where(own))
            found = {(r["tender_id"], r["organisation_code"]): r for r in rows}
            return [found.get(k) for k in keys]

        async def load_events(keys: list[tuple[str, int]]) -> list[Row | None]:
            rows = await read.rows(select(ev).where(tuple_(ev.c.stream, ev.c.seq).in_(keys)))
            found = {(r["stream"], r["seq"]): r for r in rows}
            return [found.get(k) for k in keys]

        async def load_suppliers(keys: list[str]) -> list[Row | None]:
            t = con.suppliers
            rows = await read.rows(
                select(t.c.supplier_id, t.c.name)
                .where(t.c.supplier_id.in_(keys), t.c.name.is_not(None))  # not a call-off's
                .order_by(t.c.contract_id)
            )
            found = {r["supplier_id"]: r for r in rows}
            return [found.get(k) for k in keys]

        async def load_registered_on(keys: list[str]) -> list[date | None]:
            # The first version of an organisation became valid when it was registered.
            raw = read.versions(OrganisationsProjection).organisations
            known = read.horizon[1] if read.horizon else KNOWN_NOW
            rows = await read.rows(
                select(raw.c.code, func.min(raw.c.valid_from).label("since"))
                .where(raw.c.code.in_(keys), raw.c.known_from <= known, raw.c.known_to > known)
                .group_by(raw.c.code)
            )
            found = {r["code"]: local_date(r["since"]) for r in rows}
            return [found.get(k) for k in keys]

        self.registered_on = DataLoader(load_fn=load_registered_on)
        # Succession links by (kind, id), found from either end whichever side declared them.
        self.successors = _links(read, "predecessor_id", "successor_id")
        self.predecessors = _links(read, "successor_id", "predecessor_id")
        self.participant = DataLoader(load_fn=load_participants)
        self.event = DataLoader(load_fn=load_events)
        self.supplier = DataLoader(load_fn=load_suppliers)
