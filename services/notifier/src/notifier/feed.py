"""Integration subjects and the mapping from domain events to CloudEvents (pure).

Per-organisation subjects `gt.org.<code>.<type>` carry what concerns one organisation; public
subjects `gt.public.<type>` what everybody may know. Both live in the INTEGRATION stream, apart
from the domain streams, so the domain can evolve behind a stable, versioned feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    CallOffAwarded,
    EnrolmentWindowExtended,
    EnrolmentWindowOpened,
)
from contracts_schema.envelope import EventEnvelope
from contracts_schema.integration import CloudEvent, IntegrationEvent
from contracts_schema.integration.events import (
    CallOffAwardedV1,
    ContractAmendedV1,
    ContractExpiredV1,
    ContractExpiringV1,
    ContractExtendedV1,
    ContractRestatedV1,
    ContractSignedV1,
    ContractTerminatedV1,
    ContractTransferredV1,
    EnrolmentExtendedV1,
    EnrolmentOpenedV1,
)
from contracts_schema.notifier.events import ExpiryWarningRaised
from contracts_schema.registry.events import (
    ContractAmended,
    ContractExpired,
    ContractExtended,
    ContractRestated,
    ContractSigned,
    ContractTerminated,
    ContractTransferred,
)

INTEGRATION_STREAM = "INTEGRATION"
INTEGRATION_SUBJECTS = ["gt.org.>", "gt.public.>"]


def org_subject(code: str, cloud_type: str) -> str:
    return f"gt.org.{code}.{cloud_type}"


def public_subject(cloud_type: str) -> str:
    return f"gt.public.{cloud_type}"


def org_filters(code: str) -> list[str]:
    """What one organisation may read: its own subjects and the public ones."""
    return [f"gt.org.{code}.>", "gt.public.>"]


def consumer_name(code: str) -> str:
    return f"org_{code}"


@dataclass(frozen=True)
class Outgoing:
    subject: str
    msg_id: str  # Nats-Msg-Id: the broker drops a republish of the same message
    event: CloudEvent


class Directory(Protocol):
    """What the mapping needs to know beyond the event itself (from the read model)."""

    def recipients(self, contract_id: str) -> tuple[str, ...]: ...

    def tender_title(self, tender_id: str) -> tuple[str | None, bool]:
        """(the tender's title as its publisher states it, or None; whether a title is
        stated): an imported tender without one is recorded titled by its ocid, which is the
        registry's default, not a title to send (import32). (None, True): not known."""
        ...


def to_payload(
    fact: DomainEvent, directory: Directory
) -> tuple[IntegrationEvent, str, tuple[str, ...]] | None:
    """(payload, CloudEvents subject, recipient codes) or None when the fact is not published."""
    match fact:
        case ExpiryWarningRaised():
            return (
                ContractExpiringV1(
                    contract_id=fact.contract_id,
                    contract_kind=fact.contract_kind,
                    date_kind=fact.date_kind,
                    target_date=fact.target_date,
                    stage=fact.stage,
                    months_before=fact.months_before,
                    due_on=fact.due_on,
                    late=fact.late,
                ),
                f"contract/{fact.contract_id}",
                tuple(fact.recipients),
            )
        case ContractSigned():
            payload: IntegrationEvent = ContractSignedV1(
                contract_id=fact.contract_id,
                contract_kind=fact.kind,
                tender_id=fact.tender_id,
                contracting_authority=fact.contracting_authority,
                supplier_ids=[s.supplier_id for s in fact.suppliers],
                signed_on=fact.signed_on,
                start_date=fact.start_date,
                end_date=fact.end_date,
                max_extent_date=fact.max_extent_date,
                signed_on_stated=fact.signed_on_stated,
                start_stated=fact.start_stated,
                end_stated=fact.end_stated,
            )
        case ContractExtended():
            payload = ContractExtendedV1(
                contract_id=fact.contract_id, new_end_date=fact.new_end_date
            )
        case ContractAmended():
            payload = ContractAmendedV1(
                contract_id=fact.contract_id,
                summary=fact.summary,
                end_date=fact.new_end_date,
                max_extent_date=fact.new_max_extent_date,
                value=fact.new_value,
            )
        case ContractRestated():
            payload = ContractRestatedV1(
                contract_id=fact.contract_id,
                restated_on=fact.restated_on,
                signed_on=fact.signed_on,
                start_date=fact.start_date,
                max_extent_cleared=fact.max_extent_cleared,
                value_cleared=fact.value_cleared,
                signed_on_cleared=fact.signed_on_cleared,
                start_cleared=fact.start_cleared,
                end_date=fact.end_date,
                end_cleared=fact.end_cleared,
            )
        case ContractTransferred():
            payload = ContractTransferredV1(
                contract_id=fact.contract_id,
                from_authority=fact.from_authority,
                to_authority=fact.to_authority,
                paying_agent=fact.paying_agent,
                transferred_on=fact.transferred_on,
            )
            codes = {*directory.recipients(fact.contract_id), fact.from_authority}
            return payload, f"contract/{fact.contract_id}", tuple(sorted(codes))
        case ContractTerminated():
            payload = ContractTerminatedV1(
                contract_id=fact.contract_id, terminated_on=fact.terminated_on, reason=fact.reason
            )
        case ContractExpired():
            payload = ContractExpiredV1(contract_id=fact.contract_id, expired_on=fact.expired_on)
        case CallOffAwarded():
            return (
                CallOffAwardedV1(
                    call_off_id=fact.call_off_id,
                    framework_contract_id=fact.framework_contract_id,
                    supplier_id=fact.supplier_id,
                    awarded_on=fact.awarded_on,
                    start_date=fact.start_date,
                    end_date=fact.end_date,
                ),
                f"contract/{fact.call_off_id}",
                (fact.participant_code,),
            )
        case EnrolmentWindowOpened():
            title, title_stated = directory.tender_title(fact.tender_id)
            return (
                EnrolmentOpenedV1(
                    tender_id=fact.tender_id,
                    title=title,
                    lot_ids=fact.lot_ids,
                    opens_on=fact.opens_on,
                    closes_on=fact.closes_on,
                    title_stated=title_stated,
                ),
                f"tender/{fact.tender_id}",
                (),
            )
        case EnrolmentWindowExtended():
            return (
                EnrolmentExtendedV1(tender_id=fact.tender_id, closes_on=fact.closes_on),
                f"tender/{fact.tender_id}",
                (),
            )
        case _:
            return None
    contract_id = str(getattr(fact, "contract_id", ""))
    return payload, f"contract/{contract_id}", directory.recipients(contract_id)


def outgoing(envelope: EventEnvelope, fact: DomainEvent, directory: Directory) -> list[Outgoing]:
    mapped = to_payload(fact, directory)
    if mapped is None:
        return []
    payload, subject, codes = mapped
    cloud_type = payload.cloud_event_type
    event = CloudEvent(
        # The source event's id: stable, so a consumer can dedupe on (source, id).
        id=envelope.event_id,
        type=cloud_type,
        subject=subject,
        time=envelope.occurred_at,
        data=payload.model_dump(mode="json"),
    )
    if payload.audience == "public":
        return [Outgoing(public_subject(cloud_type), f"{event.id}:public", event)]
    return [Outgoing(org_subject(code, cloud_type), f"{event.id}:{code}", event) for code in codes]
