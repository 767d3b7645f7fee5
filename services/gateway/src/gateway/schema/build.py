"""Assemble the schema with its protective extensions."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from audit.graphql import AuditQuery
from gateway.command_rate import CommandRate, CommandRateLimit
from gateway.history.horizon import with_horizons
from gateway.history.sources import is_audit_input_error
from gateway.policy import PUBLIC_COMMANDS
from gateway.privacy.mutation import ERASE_PERSON
from gateway.schema.arguments import bound_ids
from gateway.schema.enrolment_types import CallOff, Organisation, Participant
from gateway.schema.errors import InvalidArgument, is_client_error
from gateway.schema.events import Event
from gateway.schema.execution import PlainFieldsExecutionContext
from gateway.schema.guard import DocumentCache, DocumentGuard, Lane
from gateway.schema.mutations import mutation_type
from gateway.schema.queries import Query
from gateway.schema.registry_types import Contract, Programme, Supplier, Tender
from gateway.schema.scalars import SCALAR_OVERRIDES
from gateway.schema.subscriptions import Subscription
from gateway.settings import GatewaySettings

log = logging.getLogger("gateway.graphql")


class OperationTokens(SchemaExtension):
    """Consistency tokens and their deadlines hold for one operation: a websocket's context
    serves every operation of its connection (`Context.begin_operation`)."""

    async def on_operation(self):  # type: ignore[no-untyped-def]
        context = self.execution_context.context
        if getattr(context, "websocket", False):
            await context.begin_operation()
        yield


def _client_error(error: GraphQLError) -> bool:
    return is_client_error(error) or is_audit_input_error(error)


class GatewaySchema(strawberry.Schema):
    document_cache: DocumentCache  # the guard's: kept documents and their compiled plans

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # A client's mistake is the client's: one line, no traceback. Ours keep theirs.
        for error in errors:
            if is_audit_input_error(error) and not (error.extensions or {}).get("code"):
                # The audit's fields (history, entitiesAsOf, ocds) refuse bad input with a
                # plain ValueError: give it the code every other root's refusal carries.
                error.extensions = {**(error.extensions or {}), "code": InvalidArgument.code}
            if _client_error(error):
                log.info("refused: %s", error.message)
            else:
                log.error(error, exc_info=error.original_error)


NODE_TYPES = [Programme, Tender, Contract, Supplier, Organisation, Participant, CallOff, Event]


def build_schema(settings: GatewaySettings | None = None) -> GatewaySchema:
    settings = settings or GatewaySettings()
    # The limiters' rules are built once: each QueryDepthLimiter/MaxAliasesLimiter instance
    # makes a new rule class, so building them per request gave every request a new
    # ValidationCache key and validation ran afresh every time (measured: ~30% of a query).
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        *([] if settings.introspection else [NoSchemaIntrospectionCustomRule]),
    ]
    cache = DocumentCache(settings.parse_cache_bytes)  # one per schema, bounded in bytes
    lane = Lane(settings.lane_duty, max_waiting=256)
    rate = CommandRate(settings)
    schema = GatewaySchema(
        # The audit fields carry their own asOf/knownAt; every gateway root gets both clocks.
        query=merge_types("Query", (with_horizons(Query), AuditQuery)),
        # the table (internal commands are none), and the erasure of a person (privacy)
        mutation=mutation_type(PUBLIC_COMMANDS, (ERASE_PERSON,)),
        subscription=Subscription,
        types=NODE_TYPES,
        scalar_overrides=SCALAR_OVERRIDES,  # dates every clock can represent (scalars.py)
        # Factories: one extension instance per request. The guard parses (bounded by role),
        # measures the cost and validates, each with the shared byte-bounded cache.
        extensions=[
            # (The depth, alias and introspection rules are the guard's: one extension fewer
            # per request than strawberry's AddValidationRules beside it.)
            lambda: DocumentGuard(settings, cache, lane, limits),
            OperationTokens,
            # One subject's commands per minute (the buckets are the schema's, shared).
            lambda: CommandRateLimit(rate, settings.command_burst),
            # Domain, validation and limit errors reach the client; anything else is masked.
            lambda: MaskErrors(should_mask_error=lambda e: not _client_error(e)),
        ],
        config=StrawberryConfig(disable_field_suggestions=not settings.suggestions),
        # Plain attributes of rows are read without a resolver call per field (execution.py).
        execution_context_class=PlainFieldsExecutionContext,
    )
    schema.document_cache = cache
    bound_ids(schema._schema)  # ids longer than any a command takes: INVALID_ARGUMENT
    return schema
