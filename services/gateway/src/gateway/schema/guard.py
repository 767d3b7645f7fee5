"""What a GraphQL document may cost before it is parsed, validated and run.

graphql-core bounds the parse (source length, lexical tokens, comments); this module adds the
cost model the parser cannot know: selections counted after fragment expansion (duplicates
included, so the same selection repeated 500 times counts 500 times), and a cost that weighs
each list by its `first` (or by its page cap, or by `UNPAGED_LIST` for a plain list). A document
over a limit is refused before validation, whose overlap check is quadratic in repeated
selections; the walk itself stops as soon as a limit is passed, so a fragment bomb costs the
limit, not its expansion. Limits are per role: anonymous clients get the strictest.

Parsed documents and their validation results share one cache bounded by the bytes of query
text it keeps (strawberry's caches are bounded by entry count only, whatever the size).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    parse,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.graphql import OperationType as StrawberryOperationType

from gateway.settings import GatewaySettings

UNPAGED_LIST = 10  # the weight of a list without `first` (enrolments of a tender, lots, ...)
PAGE_FIELDS = ("edges", "nodes")  # a connection's page: weighed by the connection's `first`
STUB = parse("{ __typename }")
REFUSAL_PAUSE = 0.05  # seconds before an anonymous client hears that its document was refused


@dataclass(frozen=True)
class Limits:
    query_bytes: int
    tokens: int
    selections: int
    cost: int
    repeats: int

    @classmethod
    def of(cls, settings: GatewaySettings, anonymous: bool) -> Limits:
        s = settings
        if anonymous:
            return cls(
                s.anonymous_max_query_bytes,
                s.anonymous_max_tokens,
                s.anonymous_max_selections,
                s.anonymous_max_cost,
                s.max_repeats,
            )
        return cls(s.max_query_bytes, s.max_tokens, s.max_selections, s.max_cost, s.max_repeats)


class TooCostly(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "QUERY_TOO_COMPLEX"})


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        limits: Limits,
        page_cap: int,
        who: str,
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        self.limits, self.page_cap, self.who = limits, page_cap, who
        self.selections = 0
        self.cost = 0
        self.repeats: dict[tuple[str, ...], int] = {}  # response path -> times selected
        self.read: dict[str, None] = {}  # the variables a width was read from, in order

    def operation(self, op: OperationDefinitionNode) -> None:
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[op.operation]
        self.walk(op.selection_set, root, 1, (), (op.operation.value,))

    def walk(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        weight: int,
        spreads: tuple[str, ...],
        path: tuple[str, ...],
    ) -> None:
        if selection_set is None:
            return
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                key = (*path, (node.alias or node.name).value)
                self._count(weight, key)
                field = getattr(parent, "fields", {}).get(node.name.value)
                child = get_named_type(field.type) if field else None
                width = self._width(node, field)
                self.walk(node.selection_set, child, weight * width, spreads, key)
            elif isinstance(node, InlineFragmentNode):
                cond = node.type_condition
                inner = self.schema.get_type(cond.name.value) if cond else parent
                self.walk(node.selection_set, inner, weight, spreads, path)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreads:
                    continue  # unknown or cyclic: validation names it
                inner = self.schema.get_type(fragment.type_condition.name.value)
                self.walk(fragment.selection_set, inner, weight, (*spreads, name), path)

    def _count(self, weight: int, key: tuple[str, ...]) -> None:
        self.selections += 1
        self.cost += weight
        # Validation compares every pair of fields that merge into one response key, so a
        # key selected n times costs n^2: the same field repeated is refused early.
        repeated = self.repeats[key] = self.repeats.get(key, 0) + 1
        if repeated > self.limits.repeats:
            raise TooCostly(
                f"`{'.'.join(key[1:])}` is selected more than {self.limits.repeats} times"
                f" (the limit for {self.who}); select each field once"
            )
        if self.selections > self.limits.selections:
            raise TooCostly(
                f"the query selects more than {self.limits.selections} fields once fragments"
                f" are expanded (the limit for {self.who}); ask for less or split it"
            )
        if self.cost > self.limits.cost:
            raise TooCostly(
                f"the query's cost exceeds {self.limits.cost} (the limit for {self.who}):"
                " each field counts once per item of every list above it (`first`);"
                " ask for smaller pages or fewer fields"
            )

    def _width(self, node: FieldNode, field: Any) -> int:
        """How many items a list field may return: its `first`/`last`, else its cap."""
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value: Any = argument.value
                if isinstance(value, IntValueNode):
                    value = int(value.value)
                elif isinstance(value, VariableNode):
                    self.read[value.name.value] = None
                    value = self.variables.get(value.name.value)
                return _page_width(value, self.page_cap)
        if field is None or node.name.value in PAGE_FIELDS:
            return 1  # unknown (validation refuses it), or the page its connection counted
        if "first" in field.args:
            return self.page_cap
        return UNPAGED_LIST if isinstance(get_nullable_type(field.type), GraphQLList) else 1


def _page_width(value: Any, page_cap: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, min(value, page_cap))
    return page_cap


def measure(
    document: DocumentNode,
    schema: GraphQLSchema,
    variables: Mapping[str, Any] | None,
    limits: Limits,
    page_cap: int,
    who: str,
) -> tuple[int, int]:
    """(selections, cost) of every operation in the document; TooCostly past a limit."""
    selections, cost, _ = _measured(document, schema, variables, limits, page_cap, who)
    return selections, cost


def _measured(
    document: DocumentNode,
    schema: GraphQLSchema,
    variables: Mapping[str, Any] | None,
    limits: Limits,
    page_cap: int,
    who: str,
) -> tuple[int, int, tuple[str, ...]]:
    """As `measure`, and the variables whose values the walk read (as widths)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, variables or {}, limits, page_cap, who)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk.operation(definition)
    return walk.selections, walk.cost, tuple(walk.read)


class Measured:
    """One kept document's walks that passed the limits, by the widths its variables gave.

    A walk visits every node of the document whatever the variables' values (it stops
    early only to refuse) and reads the variables only as the widths of lists: the same
    document at the same limits and widths measures the same. Refusals are not kept (each
    is walked again and reported afresh)."""

    KEPT = 64  # width combinations per document

    def __init__(self) -> None:
        self._names: dict[tuple[Limits, int], tuple[str, ...]] = {}
        self._passed: set[tuple[Any, ...]] = set()

    def check(
        self,
        document: DocumentNode,
        schema: GraphQLSchema,
        variables: Mapping[str, Any] | None,
        limits: Limits,
        page_cap: int,
        who: str,
    ) -> None:
        values = variables or {}
        names = self._names.get((limits, page_cap))
        if names is not None:
            key = (limits, page_cap, *(_page_width(values.get(n), page_cap) for n in names))
            if key in self._passed:
                return
        _, _, names = _measured(document, schema, values, limits, page_cap, who)
        if len(self._passed) >= self.KEPT:
            self._passed.clear()
        self._names[limits, page_cap] = names
        self._passed.add((limits, page_cap, *(_page_width(values.get(n), page_cap) for n in names)))


def _longest_list(value: Any) -> int:
    """The longest list anywhere in decoded variables (iteratively: no recursion)."""
    longest, todo = 0, [value]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            longest = max(longest, len(item))
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
    return longest


Entry = tuple[DocumentNode, list[GraphQLError], Measured, dict[Any, Any]]


class DocumentCache:
    """Parsed documents and validation results, LRU, bounded by the query bytes it holds;
    beside each, its compiled plans (compiled.py), evicted with it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def get(self, query: str) -> Entry | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def put(self, query: str, document: DocumentNode, errors: list[GraphQLError]) -> None:
        # A document's AST is some tens of times its text; only small texts are kept at all.
        size = len(query)
        if size * 64 > self.max_bytes:
            return
        if query in self._entries:
            self.bytes -= len(query)
        self._entries[query] = (document, errors, Measured(), {})
        self._entries.move_to_end(query)
        self.bytes += size
        while self.bytes > self.max_bytes and self._entries:
            old, _ = self._entries.popitem(last=False)
            self.bytes -= len(old)


class Lane:
    """Admission for documents worth parsing off the fast path: one at a time, and paced so
    that they take at most `duty` of the event loop (the loop keeps serving other requests
    between them, however many large documents arrive at once)."""

    def __init__(self, duty: float, max_waiting: int) -> None:
        self.duty = duty
        self.max_waiting = max_waiting
        self.waiting = 0
        self._lock: asyncio.Lock | None = None
        self._free_at = 0.0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self.waiting >= self.max_waiting:
            raise GraphQLError(
                "the gateway is busy with large queries; retry shortly or send a smaller one",
                extensions={"code": "BUSY"},
            )
        self._lock = self._lock or asyncio.Lock()
        self.waiting += 1
        try:
            async with self._lock:
                pause = self._free_at - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                started = time.monotonic()
                try:
                    yield
                finally:
                    spent = time.monotonic() - started
                    self._free_at = time.monotonic() + spent * (1 / self.duty - 1)
        finally:
            self.waiting -= 1


def admitted(
    cache: DocumentCache,
    settings: GatewaySettings,
    schema: GraphQLSchema,
    query: str,
    variables: Mapping[str, Any] | None,
    anonymous: bool,
) -> tuple[DocumentNode, dict[Any, Any]] | None:
    """The kept document `DocumentGuard.on_parse` would pass on for this request without a
    word (within every limit, validated without errors), and its compiled plans; None when
    the guard would say anything (it then says it: the caller runs the request through it).
    """
    cached = cache.get(query)
    if cached is None or cached[1]:
        return None
    limits = Limits.of(settings, anonymous)
    who = "anonymous clients" if anonymous else "signed-in clients"
    if _longest_list(variables) > settings.max_list_argument:
        return None
    if len(query.encode("utf-8", "surrogatepass")) > limits.query_bytes:
        return None
    try:
        cached[2].check(cached[0], schema, variables, limits, settings.max_page_size, who)
    except GraphQLError:
        return None
    return cached[0], cached[3]


class DocumentGuard(SchemaExtension):
    """Bounded parse, the cost model, then cached validation (replaces strawberry's
    ParserCache, ValidationCache and MaxTokensLimiter, whose token count skips comments)."""

    def __init__(
        self,
        settings: GatewaySettings,
        cache: DocumentCache,
        lane: Lane,
        rules: Sequence[type[ASTValidationRule]] = (),
    ) -> None:
        super().__init__()
        self.settings = settings
        self.cache = cache
        self.lane = lane
        self.rules = rules  # validation rules after graphql's own (depth, aliases, ...)
        self.errors: list[GraphQLError] = []

    def _who(self) -> tuple[Limits, str]:
        context = self.execution_context.context
        try:
            anonymous = context.principal.role.value == "anonymous"
        except GraphQLError:
            anonymous = True  # a bad token is reported by the resolvers; limits as anonymous
        who = "anonymous clients" if anonymous else "signed-in clients"
        return Limits.of(self.settings, anonymous), who

    async def on_parse(self) -> AsyncIterator[None]:
        ec = self.execution_context
        query = ec.query or ""
        limits, who = self._who()
        size = len(query.encode("utf-8", "surrogatepass"))
        try:
            longest = _longest_list(ec.variables)
            if longest > self.settings.max_list_argument:
                raise GraphQLError(
                    f"a list in the variables has {longest} values; at most"
                    f" {self.settings.max_list_argument} are accepted",
                    extensions={"code": "LIST_TOO_LONG"},
                )
            if size > limits.query_bytes:
                raise GraphQLError(
                    f"the query is {size} bytes; {who} may send at most {limits.query_bytes}",
                    extensions={"code": "QUERY_TOO_LARGE"},
                )
            cached = self.cache.get(query)
            if cached is not None:
                document, errors, measured, _ = cached
                page_cap = self.settings.max_page_size
                schema = ec.schema._schema
                measured.check(document, schema, ec.variables, limits, page_cap, who)
            elif size > self.settings.lane_threshold_bytes:
                async with self.lane.admit():
                    document, errors = self._prepare(query, limits, who)
            else:
                document, errors = self._prepare(query, limits, who)
            ec.graphql_document = document
            self.errors = errors
        except GraphQLError as error:
            ec.graphql_document = STUB  # stands in until on_validate reports the refusal
            self.errors = [error]
            if who == "anonymous clients":
                # A refusal costs the gateway almost nothing, so an anonymous client sending
                # refused documents back to back on many connections would take the event
                # loop from everyone else: it hears its refusal after a pause.
                await asyncio.sleep(REFUSAL_PAUSE)
        yield

    def _prepare(
        self, query: str, limits: Limits, who: str
    ) -> tuple[DocumentNode, list[GraphQLError]]:
        ec = self.execution_context
        document = parse(
            query,
            max_source_length=limits.query_bytes,
            max_lexical_tokens=limits.tokens,
            max_comments=limits.tokens,
        )
        self._measure(document, limits, who)
        rules = (
            *ec.validation_rules,
            *self.rules,
            MaybeNullValidationRule,
            OneOfInputValidationRule,
        )
        errors = validate(
            ec.schema._schema, document, rules, hide_suggestions=not self.settings.suggestions
        )
        self.cache.put(query, document, errors)
        return document, errors

    def _measure(self, document: DocumentNode, limits: Limits, who: str) -> None:
        ec = self.execution_context
        page_cap = self.settings.max_page_size
        measure(document, ec.schema._schema, ec.variables, limits, page_cap, who)

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        errors = self.errors
        if not errors and not getattr(ec.context, "websocket", True):
            try:
                subscription = ec.operation_type is StrawberryOperationType.SUBSCRIPTION
            except RuntimeError:
                subscription = False  # no such operation: strawberry says so
            if subscription:
                errors = [
                    GraphQLError(
                        "subscriptions are served over WebSocket (graphql-transport-ws) at"
                        " /graphql, not over HTTP",
                        extensions={"code": "SUBSCRIPTION_OVER_HTTP"},
                    )
                ]
        ec.pre_execution_errors = errors
        yield
