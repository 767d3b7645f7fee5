"""Pseudonymous actors for commands, and erasing a person: the event first, then the mapping.

The order matters: `PersonErased` is appended (or found already appended) before the mapping
is deleted, so an erasure that fails half-way can be asked again and every erased mapping has
its audited event. The command id is derived from the pseudonym: a retry is the same command.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Protocol

from contracts_schema.base import Command
from contracts_schema.privacy import ErasePerson, ErasureReason, pseudonym_of, render_actor
from contracts_schema.replies import CommandAccepted, CommandRejected
from gateway.auth import Principal
from gateway.privacy.identities import IdentityStore

log = logging.getLogger(__name__)

RETENTION_ACTOR = "gateway:retention"  # a service, not a person


class Sender(Protocol):
    async def send(
        self, command: Command, actor: str, *, correlation_id: str | None = None
    ) -> CommandAccepted | CommandRejected: ...


async def actor_of(principal: Principal, store: IdentityStore) -> str:
    """The envelope's actor: role, pseudonym and (for participants) the organisation code."""
    pseudonym = await asyncio.to_thread(store.pseudonym_for, principal.subject)
    suffix = f"@{principal.organisation}" if principal.organisation else ""
    return f"{principal.role.value}:{pseudonym}{suffix}"


def actor_names(store: IdentityStore, actors: set[str]) -> dict[str, str]:
    """Each actor as people read it: identity while mapped, else 'erased person (p-...)'."""
    pseudonyms = {p for a in actors if (p := pseudonym_of(a))}
    known = store.identities_of(pseudonyms)
    return {a: render_actor(a, known.get) for a in actors}


async def erase(
    store: IdentityStore,
    bus: Sender,
    pseudonym: str,
    reason: ErasureReason,
    actor: str,
) -> CommandAccepted | CommandRejected:
    command = ErasePerson(command_id=f"erase-{pseudonym}", pseudonym=pseudonym, basis=reason)
    reply = await bus.send(command, actor)
    done = isinstance(reply, CommandAccepted) or reply.code == "PERSON_ALREADY_ERASED"
    if done:
        await asyncio.to_thread(store.forget, pseudonym)
    return reply


async def erase_subject(
    store: IdentityStore, bus: Sender, subject: str, actor: str
) -> CommandAccepted | CommandRejected:
    """An erasure request for the person who signs in as `subject`."""
    pseudonym = await asyncio.to_thread(store.known_pseudonym, subject)
    if pseudonym is None:
        return CommandRejected(
            command_id=f"erase-unknown-{len(subject)}",
            code="PERSON_UNKNOWN",
            message="no person with that subject is known here: they never sent a command,"
            " or they were erased already",
        )
    return await erase(store, bus, pseudonym, "request", actor)


async def sweep_retention(
    store: IdentityStore, bus: Sender, retention: timedelta, now: datetime | None = None
) -> list[str]:
    """Erase every mapping unused for longer than `retention`; the pseudonyms erased."""
    erased = []
    for old in await asyncio.to_thread(store.expired, retention, now):
        reply = await erase(store, bus, old.pseudonym, "retention", RETENTION_ACTOR)
        if isinstance(reply, CommandAccepted) or reply.code == "PERSON_ALREADY_ERASED":
            erased.append(old.pseudonym)
        else:
            log.warning("retention erasure of %s not done: %s", old.pseudonym, reply.message)
    return erased
