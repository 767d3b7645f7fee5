"""DataLoaders, created per request: each nested list costs one query, whatever the row count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import date
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, bindparam, func, select, tuple_
from strawberry.dataloader import DataLoader

from gateway.projections import OrganisationsProjection
from gateway.readmodels import KNOWN_NOW, ReadModels, local_date

Row = RowMapping
Loader = Callable[[list[Any]], Awaitable[Sequence[Any]]]


KEYS = "loader_keys"  # a loader's keys: one expanding parameter, one statement kept
OWN = "loader_own"  # the one organisation whose enrolments a request may load


def _keyed(column: Any) -> ColumnElement[bool]:
    return column.in_(bindparam(KEYS, expanding=True))  # type: ignore[no-any-return]


def _one(read: ReadModels, table: Any, column: Any) -> DataLoader[Any, Row | None]:
    statement = read.statement(("one", table, column), lambda: select(table).where(_keyed(column)))

    async def load(keys: list[Any]) -> list[Row | None]:
        rows = await read.rows(statement, {KEYS: keys})
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
    only: str | None = None,
) -> ByKey:
    """`only`: the rows of this organisation alone (`organisation_code`), when not None."""

    def make(columns: tuple[str, ...] | None) -> Loader:
        def build() -> Any:
            if columns is None:
                query = select(table)
            else:  # the key groups the rows: always selected
                query = select(*(table.c[c] for c in sorted({column.name, *columns})))
            query = query.where(_keyed(column))
            if only is not None:
                query = query.where(table.c.organisation_code == bindparam(OWN))
            return query.order_by(*order)

        shape = ("many", table, column, *order, columns, only is not None)
        statement = read.statement(shape, build)

        async def load(keys: list[Any]) -> list[list[Row]]:
            rows = await read.rows(statement, {KEYS: keys, OWN: only})
            if len(keys) == 1 and type(keys[0]) is str:
                return [rows]  # all the one key's: text compares in SQL as here
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
    """A request's DataLoaders, each made when the request first asks for it (a request
    uses a few of the twenty)."""

    def __init__(self, read: ReadModels, enrolments_of: str | None = None) -> None:
        """`enrolments_of`: the one organisation whose enrolments this request may load (a
        participant's own); None loads everyone's (coordinators, auditors). Every path to a
        Participant goes through these loaders, so the restriction holds on all of them."""
        self.read = read
        self.enrolments_of = enrolments_of

    @cached_property
    def _own(self) -> ColumnElement[bool] | None:
        code = self.read.enrolment.participants.c.organisation_code
        return None if self.enrolments_of is None else code == self.enrolments_of

    @cached_property
    def organisation(self) -> DataLoader[Any, Row | None]:
        org = self.read.organisations.organisations
        return _one(self.read, org, org.c.code)

    @cached_property
    def programme(self) -> DataLoader[Any, Row | None]:
        t = self.read.tenders.programmes
        return _one(self.read, t, t.c.programme_id)

    @cached_property
    def tender(self) -> DataLoader[Any, Row | None]:
        t = self.read.tenders.tenders
        return _one(self.read, t, t.c.tender_id)

    @cached_property
    def contract(self) -> DataLoader[Any, Row | None]:
        t = self.read.contracts.contracts
        return _one(self.read, t, t.c.contract_id)

    @cached_property
    def call_off(self) -> DataLoader[Any, Row | None]:
        t = self.read.enrolment.call_offs
        return _one(self.read, t, t.c.call_off_id)

    @cached_property
    def window(self) -> DataLoader[Any, Row | None]:
        t = self.read.enrolment.windows
        return _one(self.read, t, t.c.tender_id)

    @cached_property
    def lots_by_tender(self) -> ByKey:
        t = self.read.tenders.lots
        return _many(self.read, t, t.c.tender_id, t.c.position, t.c.lot_id)

    @cached_property
    def tenders_by_programme(self) -> ByKey:
        t = self.read.tenders.tenders
        return _many(self.read, t, t.c.programme_id, t.c.tender_id)

    @cached_property
    def contracts_by_tender(self) -> ByKey:
        t = self.read.contracts.contracts
        return _many(self.read, t, t.c.tender_id, t.c.contract_id)

    @cached_property
    def contracts_by_authority(self) -> ByKey:
        t = self.read.contracts.contracts
        return _many(self.read, t, t.c.contracting_authority, t.c.contract_id)

    @cached_property
    def suppliers_by_contract(self) -> ByKey:
        t = self.read.contracts.suppliers
        return _many(self.read, t, t.c.contract_id, t.c.supplier_id)

    @cached_property
    def supplier_contracts(self) -> ByKey:
        t = self.read.contracts.suppliers
        return _many(self.read, t, t.c.supplier_id, t.c.contract_id)

    @cached_property
    def participants_by_tender(self) -> ByKey:
        t = self.read.enrolment.participants
        return _many(self.read, t, t.c.tender_id, t.c.organisation_code, only=self.enrolments_of)

    @cached_property
    def participants_by_organisation(self) -> ByKey:
        t = self.read.enrolment.participants
        return _many(self.read, t, t.c.organisation_code, t.c.tender_id, only=self.enrolments_of)

    @cached_property
    def call_offs_by_framework(self) -> ByKey:
        t = self.read.enrolment.call_offs
        return _many(self.read, t, t.c.framework_contract_id, t.c.call_off_id)

    @cached_property
    def call_offs_by_participant(self) -> ByKey:
        t = self.read.enrolment.call_offs
        return _many(self.read, t, t.c.participant_code, t.c.call_off_id)

    @cached_property
    def participant(self) -> DataLoader[tuple[str, str], Row | None]:
        read, own, t = self.read, self._own, self.read.enrolment.participants

        async def load(keys: list[tuple[str, str]]) -> list[Row | None]:
            query = select(t).where(tuple_(t.c.tender_id, t.c.organisation_code).in_(keys))
            rows = await read.rows(query if own is None else query.where(own))
            found = {(r["tender_id"], r["organisation_code"]): r for r in rows}
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def event(self) -> DataLoader[tuple[str, int], Row | None]:
        read, ev = self.read, self.read.event_log.events

        async def load(keys: list[tuple[str, int]]) -> list[Row | None]:
            rows = await read.rows(select(ev).where(tuple_(ev.c.stream, ev.c.seq).in_(keys)))
            found = {(r["stream"], r["seq"]): r for r in rows}
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def supplier(self) -> DataLoader[str, Row | None]:
        read, t = self.read, self.read.contracts.suppliers
        org = self.read.organisations.organisations

        async def load(keys: list[str]) -> list[Row | None]:
            rows = await read.rows(
                select(t.c.supplier_id, t.c.name)
                .where(t.c.supplier_id.in_(keys), t.c.name.is_not(None))  # not a call-off's
                .order_by(t.c.contract_id)
            )
            found = {r["supplier_id"]: r for r in rows}
            if missing := [k for k in keys if k not in found]:
                # A supplier no contract names yet (a lot provisionally awarded, a framework
                # not signed yet) is named as registered, as the OCDS export names it, not by
                # its bare code.
                registered = await read.rows(
                    select(org.c.code.label("supplier_id"), org.c.name).where(
                        org.c.code.in_(missing), org.c.kind == "supplier"
                    )
                )
                found |= {r["supplier_id"]: r for r in registered}
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def registered_on(self) -> DataLoader[str, date | None]:
        read = self.read

        async def load(keys: list[str]) -> list[date | None]:
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

        return DataLoader(load_fn=load)

    # Succession links by (kind, id), found from either end whichever side declared them.
    @cached_property
    def successors(self) -> DataLoader[tuple[str, str], list[str]]:
        return _links(self.read, "predecessor_id", "successor_id")

    @cached_property
    def predecessors(self) -> DataLoader[tuple[str, str], list[str]]:
        return _links(self.read, "successor_id", "predecessor_id")
