"""`erasePerson(subject)`: a coordinator honours an erasure request (AVG art. 17)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from contracts_schema.replies import CommandAccepted
from gateway.auth import Role, subject_problem
from gateway.privacy.erasure import actor_of, erase_subject
from gateway.schema.context import Info
from gateway.schema.errors import ClientError, refusal_code
from gateway.schema.mutations import CommandResult, DomainError, PermissionDenied, _succeeded


async def erase_person(
    info: Info,
    subject: Annotated[
        str,
        strawberry.argument(
            description="The login subject (the token's `sub`) of the person to erase."
        ),
    ],
) -> CommandResult:
    principal = info.context.principal
    if principal.role is not Role.COORDINATOR:
        return PermissionDenied(
            code="FORBIDDEN", message="only a coordinator may erase a person (erasePerson)"
        )
    if info.context.commands is None:
        raise ClientError("this gateway is read-only (no command bus)", "READ_ONLY")
    store = info.context.identity_store
    problem = subject_problem(subject)
    # No login carries it now: say so (PostgreSQL failed on a NUL). But a person stored before
    # the rule (review18b) is still erased: the right to erasure outlives a login rule.
    if problem is not None and (
        "\x00" in subject or await asyncio.to_thread(store.known_pseudonym, subject) is None
    ):
        raise ClientError(
            problem.replace("the bearer token's `sub`", "`subject` (a login's `sub`)"),
            "INVALID_ARGUMENT",
        )
    actor = await actor_of(principal, store)
    reply = await erase_subject(store, info.context.commands, subject, actor)
    if isinstance(reply, CommandAccepted):
        return _succeeded(reply)
    return DomainError(code=reply.code, message=reply.message, refusal=refusal_code(reply.code))


ERASE_PERSON: Any = strawberry.mutation(
    resolver=erase_person,
    description="Erase the identity behind a person's pseudonym: every view shows 'erased"
    " person' from then on, the log keeps verifying, and a PersonErased event records the"
    " erasure for auditors (coordinators only; docs/privacy.md).",
)
