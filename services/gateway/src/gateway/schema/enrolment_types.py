"""Organisation, EnrolmentWindow, Participant (an enrolment) and CallOff."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import RowMapping
from strawberry import relay

from contracts_schema.enrolment.state.enrolment_window import ParticipantStatus
from gateway.schema.context import Info
from gateway.schema.enums import CallOffProcedure, OrganisationKind
from gateway.schema.registry_types import Contract, Supplier, Tender, contracts_seen, suppliers


@strawberry.type
class Organisation(relay.Node):
    pk: relay.NodeID[str]
    code: str
    name: str
    kind: OrganisationKind
    province: str | None
    merged_into: str | None
    merged_on: date | None

    @strawberry.field(description="The day it was registered (its first fact's valid date).")
    async def registered_on(self, info: Info) -> date | None:
        return await info.context.loaders.registered_on.load(self.code)

    @classmethod
    def from_row(cls, r: RowMapping) -> Organisation:
        return cls(pk=r["code"], **{k: r[k] for k in ORGANISATION_FIELDS})

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Organisation | None]:
        rows = await info.context.loaders.organisation.load_many(list(node_ids))
        return [cls.from_row(r) if r else None for r in rows]

    @strawberry.field(description="Contracts this body holds as contracting authority.")
    async def contracts(self, info: Info) -> list[Contract]:
        rows = await info.context.loaders.contracts_by_authority.load(self.code)
        return contracts_seen(info, rows)

    @strawberry.field(description="Its enrolments (itself, coordinators and auditors only).")
    async def participations(self, info: Info) -> list[Participant] | None:
        info.context.require_organisation(self.code, "the participation list")
        rows = await info.context.loaders.participants_by_organisation.load(self.code)
        return [Participant.from_row(r) for r in rows]

    @strawberry.field(description="Its call-offs (itself, coordinators and auditors only).")
    async def call_offs(self, info: Info) -> list[CallOff] | None:
        info.context.require_organisation(self.code, "the call-off list")
        rows = await info.context.loaders.call_offs_by_participant.load(self.code)
        return [CallOff.from_row(r) for r in rows]


ORGANISATION_FIELDS = (
    "code", "name", "kind", "province", "merged_into", "merged_on",
)  # fmt: skip


async def organisation(info: Info, code: str) -> Organisation | None:
    row = await info.context.loaders.organisation.load(code)
    return Organisation.from_row(row) if row else None


@strawberry.type
class EnrolmentWindow:
    tender_id: str
    lot_ids: list[str]
    opens_on: date
    closes_on: date
    previous_round_tender_id: str | None
    frozen_on: date | None

    @classmethod
    def from_row(cls, r: RowMapping) -> EnrolmentWindow:
        return cls(**{k: r[k] for k in WINDOW_FIELDS})

    @strawberry.field
    def is_frozen(self) -> bool:
        return self.frozen_on is not None


WINDOW_FIELDS = (
    "tender_id", "lot_ids", "opens_on", "closes_on", "previous_round_tender_id", "frozen_on",
)  # fmt: skip


@strawberry.type(description="An enrolment: a body that may use a joint tender's contracts.")
class Participant(relay.Node):
    pk: relay.NodeID[str]  # "<tender_id>/<organisation_code>"
    tender_id: str
    organisation_code: str
    lot_ids: list[str]
    status: ParticipantStatus
    enrolled_on: date | None  # None: known only from the frozen participant list
    withdrawn_on: date | None
    frozen: bool
    _power_of_attorney_ref: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, r: RowMapping) -> Participant:
        return cls(
            pk=f"{r['tender_id']}/{r['organisation_code']}",
            _power_of_attorney_ref=r["power_of_attorney_ref"],
            **{k: r[k] for k in PARTICIPANT_FIELDS},
        )

    @classmethod
    def from_rows(cls, rows: Sequence[RowMapping]) -> list[Participant]:
        """From whole rows or rows narrowed to a selection's columns (selection.py): a column
        not selected is None, and the selection reads none of them."""
        present, absent = _columns(rows, (*PARTICIPANT_FIELDS, "power_of_attorney_ref"))
        found = []
        for r in rows:
            values = {**absent, **{k: r[k] for k in present}}
            found.append(
                cls(
                    pk=f"{values['tender_id']}/{values['organisation_code']}",
                    _power_of_attorney_ref=values.pop("power_of_attorney_ref"),
                    **values,
                )
            )
        return found

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Participant | None]:
        info.context.require_signed_in("a participant")
        keys = [(i.partition("/")[0], i.partition("/")[2]) for i in node_ids]
        rows = await info.context.loaders.participant.load_many(keys)
        return [cls.from_row(r) if r else None for r in rows]

    @strawberry.field(description="Non-public: the participant itself, coordinators, auditors.")
    def power_of_attorney_ref(self, info: Info) -> str | None:
        info.context.require_organisation(self.organisation_code, "the power of attorney")
        return self._power_of_attorney_ref

    @strawberry.field
    async def organisation(self, info: Info) -> Organisation | None:
        return await organisation(info, self.organisation_code)

    @strawberry.field
    async def tender(self, info: Info) -> Tender | None:
        row = await info.context.loaders.tender.load(self.tender_id)
        return Tender.from_row(row) if row else None


def _columns(rows: Sequence[RowMapping], names: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """Which of `names` the rows hold (all rows of a statement hold the same), and the rest
    as None."""
    present = [k for k in names if rows and k in rows[0]]
    return present, dict.fromkeys((k for k in names if k not in present), None)


PARTICIPANT_FIELDS = (
    "tender_id", "organisation_code", "lot_ids", "status", "enrolled_on", "withdrawn_on", "frozen",
)  # fmt: skip


@strawberry.type(description="A call-off (nadere overeenkomst) under a framework.")
class CallOff(relay.Node):
    pk: relay.NodeID[str]
    call_off_id: str
    framework_contract_id: str
    tender_id: str
    lot_id: str
    participant_code: str
    supplier_id: str
    awarded_on: date
    procedure: CallOffProcedure
    start_date: date
    end_date: date
    value_eur: Decimal | None

    @classmethod
    def from_row(cls, r: RowMapping) -> CallOff:
        return cls(pk=r["call_off_id"], **{k: r[k] for k in CALL_OFF_FIELDS})

    @classmethod
    def from_rows(cls, rows: Sequence[RowMapping]) -> list[CallOff]:
        """From whole rows or narrowed ones (as Participant.from_rows)."""
        present, absent = _columns(rows, CALL_OFF_FIELDS)
        return [cls(pk=r["call_off_id"], **absent, **{k: r[k] for k in present}) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[CallOff | None]:
        rows = await info.context.loaders.call_off.load_many(list(node_ids))
        for row in rows:
            if row:
                info.context.require_organisation(row["participant_code"], "the call-off")
        return [cls.from_row(r) if r else None for r in rows]

    @strawberry.field
    async def framework(self, info: Info) -> Contract | None:
        row = await info.context.loaders.contract.load(self.framework_contract_id)
        return Contract.from_row(row) if row else None

    @strawberry.field
    async def participant(self, info: Info) -> Organisation | None:
        return await organisation(info, self.participant_code)

    @strawberry.field
    async def supplier(self, info: Info) -> Supplier:
        return (await suppliers(info, [self.supplier_id]))[0]


CALL_OFF_FIELDS = (
    "call_off_id", "framework_contract_id", "tender_id", "lot_id", "participant_code",
    "supplier_id", "awarded_on", "procedure", "start_date", "end_date", "value_eur",
)  # fmt: skip
