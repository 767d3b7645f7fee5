"""Personal data: who acted is stored as a pseudonym, and an erasure is an event.

The envelope's `actor` names a natural person only by a pseudonym (`coordinator:p-<hex>`,
`participant:p-<hex>@GM0363`); the pseudonym -> identity mapping lives outside the log, in a
store that can forget (see docs/privacy.md). Erasing a person deletes that mapping and appends
`PersonErased` (the pseudonym, never the identity) to the `person` aggregate of the notifier
context, so auditors see when and why a name stopped resolving while every hash chain stays
as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, Literal

from pydantic import Field

from contracts_schema.base import Command, DomainEvent

PSEUDONYM = r"p-[0-9a-f]{32}"
ERASED = "erased person"
ErasureReason = Literal["request", "retention"]

_ACTOR = re.compile(rf"(?P<role>[a-z]+):(?P<who>{PSEUDONYM})(?P<org>@.+)?")


class ErasePerson(Command):
    """Forget who a pseudonym stands for (sent by the gateway, which holds the mapping)."""

    context: ClassVar[str] = "notifier"

    pseudonym: str = Field(pattern=f"^{PSEUDONYM}$", description="The person's pseudonym.")
    basis: ErasureReason = Field(
        description="request: the person (or their employer) asked; retention: the mapping"
        " outlived the configured retention period."
    )


class PersonErased(DomainEvent):
    """The identity behind a pseudonym was erased; the pseudonym now resolves to no one."""

    aggregate_type: ClassVar[str] = "person"
    context: ClassVar[str] = "notifier"

    pseudonym: str = Field(description="The erased person's pseudonym (never their identity).")
    basis: ErasureReason = Field(description="request or retention.")


def pseudonym_of(actor: str) -> str | None:
    """The pseudonym an envelope's actor names, or None (a service, or a pre-pseudonym actor)."""
    found = _ACTOR.fullmatch(actor)
    return found["who"] if found else None


def render_actor(actor: str, identity_of: Callable[[str], str | None]) -> str:
    """An actor for people to read: the identity while the mapping lives, else 'erased person'
    (with the pseudonym, which links it to its PersonErased event). Other actors as stored."""
    found = _ACTOR.fullmatch(actor)
    if not found:
        return actor
    identity = identity_of(found["who"])
    who = identity if identity is not None else f"{ERASED} ({found['who']})"
    return f"{found['role']}:{who}{found['org'] or ''}"
