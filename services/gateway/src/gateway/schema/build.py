"""Assemble the schema with its protective extensions."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from audit.graphql import AuditQuery
from contracts_schema.catalogue import COMMAND_MODELS
from contracts_schema.registry.import_commands import IMPORT_COMMANDS
from gateway.history.horizon import with_horizons
from gateway.history.sources import is_audit_input_error
from gateway.schema.enrolment_types import CallOff, Organisation, Participant
from gateway.schema.errors import is_client_error
from gateway.schema.events import Event
from gateway.schema.mutations import mutation_type
from gateway.schema.queries import Query
from gateway.schema.registry_types import Contract, Programme, Supplier, Tender
from gateway.schema.subscriptions import Subscription
from gateway.settings import GatewaySettings

NODE_TYPES = [Programme, Tender, Contract, Supplier, Organisation, Participant, CallOff, Event]


def build_schema(settings: GatewaySettings | None = None) -> strawberry.Schema:
    settings = settings or GatewaySettings()
    # The limiters' rules are built once: each QueryDepthLimiter/MaxAliasesLimiter instance
    # makes a new rule class, so building them per request gave every request a new
    # ValidationCache key and validation ran afresh every time (measured: ~30% of a query).
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    return strawberry.Schema(
        # The audit fields carry their own asOf/knownAt; every gateway root gets both clocks.
        query=merge_types("Query", (with_horizons(Query), AuditQuery)),
        # Imported facts are recorded by `audit ocds import`, not by a coordinator's mutation.
        mutation=mutation_type(tuple(c for c in COMMAND_MODELS if c not in IMPORT_COMMANDS)),
        subscription=Subscription,
        types=NODE_TYPES,
        # Factories: one extension instance per request (the two caches are shared by maxsize).
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: AddValidationRules(limits),
            # Domain, validation and limit errors reach the client; anything else is masked.
            lambda: MaskErrors(
                should_mask_error=lambda e: not (is_client_error(e) or is_audit_input_error(e))
            ),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )
