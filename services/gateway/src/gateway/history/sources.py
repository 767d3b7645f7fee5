"""The audit GraphQL's sources inside the gateway, and who may ask it.

Audit answers (any aggregate's fold, its timeline with actors and command ids, raw row
versions, OCDS packages listing every enrolled buyer) include facts the gateway keeps from
participants and anonymous clients (powers of attorney, other organisations' enrolments,
who did what). So they are for auditors and coordinators; everyone else asks the past
through the gateway's own types (`asOf`/`knownAt` on every root), whose field rules hold
at every horizon.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from graphql import GraphQLError
from sqlalchemy import Engine
from strawberry.utils.str_converters import to_camel_case

from audit.graphql import AuditQuery, AuditSources
from eventstore.store import EventStore
from gateway.privacy.erasure import actor_names
from gateway.privacy.identities import IdentityStore
from gateway.readmodels import ConsistencyError
from gateway.schema.errors import ClientError, Forbidden

AUDIT_FIELDS = frozenset(
    f.graphql_name or to_camel_case(f.python_name)
    for f in AuditQuery.__strawberry_definition__.fields  # type: ignore[attr-defined]
)


def authorize(context: Any) -> None:
    principal = context.principal
    if not principal.sees_everything:
        raise Forbidden(
            "history, row versions and OCDS packages are for auditors and coordinators;"
            " ask the gateway's own fields with asOf/knownAt for public facts"
        )


async def history_caught_up(context: Any) -> None:
    """entitiesAsOf reads the audit's history read model: only once it holds every event."""
    try:
        await context.read.reach_present(context.settings.consistency_timeout, audit=True)
    except ConsistencyError as exc:
        raise ClientError(exc.message, exc.code) from exc


def audit_sources(
    store: EventStore, engine: Engine, identities: IdentityStore | None = None
) -> AuditSources:
    names = partial(actor_names, identities) if identities is not None else None
    return AuditSources(store, engine, authorize, history_caught_up, names)


def is_audit_input_error(error: GraphQLError) -> bool:
    """Audit raises ValueError for bad input (unknown aggregate type, naive knownAt)."""
    path = error.path or []
    return bool(path) and path[0] in AUDIT_FIELDS and isinstance(error.original_error, ValueError)
