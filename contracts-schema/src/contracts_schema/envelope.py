"""The envelope every stored event travels in."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from contracts_schema.base import AwareDatetime, Identifier, Value


class EventEnvelope(Value):
    event_id: str = Field(description="Unique id of this event (UUID).")
    event_type: str = Field(description="Past-tense event name, e.g. TenderPublished.")
    schema_version: int = Field(ge=1, description="Version of the payload schema.")
    context: str = Field(description="Bounded context (and stream) that owns the aggregate.")
    aggregate_type: str = Field(description="Kind of aggregate, e.g. tender.")
    aggregate_id: Identifier = Field(description="Id of the aggregate instance.")
    aggregate_version: int = Field(
        ge=1, description="1 for the first event of the aggregate, gap-free."
    )
    occurred_at: AwareDatetime = Field(description="Valid time: when the fact became true.")
    recorded_at: AwareDatetime = Field(
        description="Transaction time: when the registry recorded it."
    )
    actor: str = Field(description="Who issued the command (user or service).")
    command_id: str = Field(description="Id of the command that produced the event.")
    correlation_id: str = Field(description="Id shared by everything one user action caused.")
    causation_id: str | None = Field(
        default=None, description="Id of the message that caused this one."
    )
    prev_hash: str | None = Field(
        description="Hash of the previous event of the aggregate; null for the first."
    )
    hash: str = Field(
        description="SHA-256 (hex) over the canonical encoding of all other fields but"
        " `signature` (and `signer` when null)."
    )
    payload: dict[str, Any] = Field(description="The event body, per the event type's JSON Schema.")
    signer: str | None = Field(
        default=None,
        description="Public nkey of the service that appended the event (hashed); null on"
        " events appended before signatures.",
    )
    signature: str | None = Field(
        default=None,
        description="Ed25519 signature (base64) by `signer` over `hash`; not itself hashed.",
    )
