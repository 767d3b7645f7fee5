"""The CloudEvents 1.0 structured-mode envelope every integration event travels in."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts_schema.base import AwareDatetime

SOURCE = "/gt-registry/notifier"


class IntegrationEvent(BaseModel):
    """Base of integration payloads: versioned by their CloudEvents type, not by the domain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cloud_event_type: ClassVar[str]
    # "participants": per-organisation subjects; "public": one subject everybody may read.
    audience: ClassVar[Literal["participants", "public"]] = "participants"


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    id: str = Field(description="Unique per source; stable across redeliveries (dedupe on it).")
    source: str = Field(default=SOURCE, description="URI reference of the producer.")
    type: str = Field(description="Versioned event type, e.g. nl.gt.contract.expiring.v1.")
    subject: str = Field(description="What the event is about, e.g. contract/C-1.")
    time: AwareDatetime = Field(description="When the underlying fact occurred (valid time).")
    datacontenttype: Literal["application/json"] = Field(default="application/json")
    data: dict[str, Any] = Field(description="Payload per the type's JSON Schema.")
