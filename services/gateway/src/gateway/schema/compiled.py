"""Kept query documents compiled once into plans that write the answer from rows.

strawberry and graphql-core pay per request for what a kept document does not change: the
view's request handling, the extensions' hooks, argument conversion, field collection, a
resolver call, a strawberry object and a completion per field of every row. For a document
the guard keeps (parsed, validated without errors, measured within the limits) whose every
selection the gateway's plain data can answer, a plan is compiled once per (document,
operation, the values of the variables its @include/@skip read): it runs the same SQL
through the same statements, loaders and pages (one round trip per list level), with the
same access rules, horizons (asOf/knownAt) and read-your-writes waits, and writes each row's
selected columns, coerced by the GraphQL type's own coercion, straight into the answer.

Anything a plan does not cover is answered the ordinary way: another root field, a resolver
the plan cannot express (an object, a relay id, an access rule per field), mutations,
subscriptions, introspection, directives other than @include/@skip, and every error (a
refused token, a forbidden list, a bad argument, a null where the schema says non-null, a
value a scalar refuses): the plan then gives up (`Fallback`) and the request runs through
strawberry from the start, which says what is wrong as it always did.
"""

from __future__ import annotations

import asyncio
from binascii import b2a_base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from json.encoder import encode_basestring_ascii as encode_text  # json.dumps's, for text
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    get_variable_values,
    input_is_nested_too_deeply,
)
from graphql.utilities.coerce_input_value import coerce_input_value
from strawberry import Schema
from strawberry.scalars import JSON
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

from contracts_schema.registry.state import ContractKind, ContractStatus
from gateway.history.horizon import Asked, enter
from gateway.schema.arguments import argument_reader
from gateway.schema.context import Context
from gateway.schema.execution import (
    FAILED,
    TEXT,
    Coerce,
    _attribute,
    _leaf_coercion,
    _shape,
    complete_leaf,
)
from gateway.schema.guard import DocumentCache, admitted
from gateway.schema.pagination import _encode, _opening, cursor_tag, page_rows
from gateway.settings import GatewaySettings


class Fallback(Exception):
    """This request's answer is not the plan's to give: it runs the ordinary way."""


NOT_COMPILED = object()  # kept for a document (operation) no plan covers
KEPT_VARIANTS = 16  # operations per document, plans per operation (by directive variables)
PLAIN_PARTS = {("pageInfo", "hasNextPage"), ("pageInfo", "endCursor"), ("edges", "cursor")}
ALLOWED_DIRECTIVES = frozenset({"include", "skip"})  # collect_fields applies both

Row = Any  # a RowMapping, or a dict of one
# (response key, __typename or None, column, convert, coerce, non-null, list, items non-null,
# the shortcut: TEXT_VALUE, INT_VALUE, BOOL_VALUE, TEXT_LIST, ISO_VALUE, AS_IS, an enum's names
# by column value,
# or None)
Leaf = tuple[
    str, str | None, str, Callable[[Any], Any] | None, Coerce | None, bool, bool, bool, Any
]
TEXT_VALUE, INT_VALUE, BOOL_VALUE, TEXT_LIST = "text", "int", "bool", "text list"
ISO_VALUE, AS_IS = "isoformat", "as is"  # strawberry's Date/DateTime and JSON scalars
ISOFORMAT = DEFAULT_SCALAR_REGISTRY[datetime].serialize  # `methodcaller("isoformat")`
IDENTITY = DEFAULT_SCALAR_REGISTRY[JSON].serialize  # `lambda v: v`
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int
Run = Callable[[Context, Mapping[str, Any]], Awaitable[Any]]
# a connection's page: (context, arguments, query, order, narrowed columns, parameters)
Page = Callable[..., Awaitable[Any]]
ArgumentReader = Callable[[VariableValues], Mapping[str, Any]]


def _sources() -> dict[str, dict[str, tuple[str, Callable[[Any], Any] | None]]]:
    """GraphQL object type -> attribute -> (column, conversion): what each type's `from_row`
    (or `from_rows`) gives an attribute from a row, for the types a plan writes."""
    from gateway.schema.enrolment_types import CALL_OFF_FIELDS, PARTICIPANT_FIELDS
    from gateway.schema.events import EVENT_FIELDS
    from gateway.schema.registry_types import CONTRACT_COLUMNS

    contract: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
        a: (c, None) for a, c in CONTRACT_COLUMNS.items()
    }
    contract["kind"] = ("kind", ContractKind)
    contract["status"] = ("status", ContractStatus)
    event: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
        k: (k, None)
        for k in EVENT_FIELDS
        if k != "actor"  # stored_actor: private
    }
    event["sequence"] = ("seq", None)
    return {
        "Contract": contract,
        "Participant": {k: (k, None) for k in PARTICIPANT_FIELDS},
        "CallOff": {k: (k, None) for k in CALL_OFF_FIELDS},
        "Event": event,
    }


def _complete(value: Any, leaf: Leaf) -> Any:
    """A leaf's value as graphql-core completes it; Fallback where it would report an
    error (a null in a non-null field, a value its coercion refuses)."""
    _, _, _, _, coerce, non_null, is_list, items_non_null, _ = leaf
    out = complete_leaf(value, coerce, non_null, is_list, items_non_null)
    if out is FAILED:
        raise Fallback
    return out


def _write(leaves: Sequence[Leaf], row: Row) -> dict[str, Any]:
    """One object of leaves, from its row: the common cases inline, the rest completed as
    graphql-core would (`_complete`)."""
    out: dict[str, Any] = {}
    for leaf in leaves:
        key, typename, column, convert, _, non_null, _, _, fast = leaf
        if typename is not None:
            out[key] = typename
            continue
        value = row[column]
        if value is None:
            if non_null or convert is not None:
                raise Fallback  # a null in a non-null field; a conversion that refuses it
            out[key] = None
            continue
        kind = type(value)
        if fast is TEXT_VALUE:
            if kind is str:
                out[key] = value
                continue
        elif fast.__class__ is dict:  # an enum's name by the column's value
            name = fast.get(value) if kind is str else None
            if name is not None:
                out[key] = name
                continue
            name = _complete(value if convert is None else convert(value), leaf)
            if kind is str:
                fast[value] = name
            out[key] = name
            continue
        elif fast is INT_VALUE:
            if kind is int and INT_MIN <= value <= INT_MAX:
                out[key] = value
                continue
        elif fast is BOOL_VALUE:
            if kind is bool:
                out[key] = value
                continue
        elif fast is ISO_VALUE:
            if kind is datetime or kind is date:
                out[key] = value.isoformat()  # the scalar's own serialize, called directly
                continue
        elif fast is AS_IS:
            out[key] = value  # the JSON scalar serializes a value as it is
            continue
        elif fast is TEXT_LIST and kind is list:
            for item in value:
                if type(item) is not str:
                    break
            else:
                out[key] = value  # read only: the answer is encoded before anything else
                continue
        out[key] = _complete(value if convert is None else convert(value), leaf)
    return out


def _variable_values(
    signatures: Sequence[GraphQLVariableSignature], inputs: Mapping[str, Any]
) -> VariableValues | None:
    """The variables as `coerce_variable_values` gives them, with the signatures read once
    per operation; None where it would use a default or report an error (the caller then
    asks graphql-core, which does both)."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for signature in signatures:
        name = signature.name
        value = inputs.get(name, Undefined)
        if value is Undefined:
            if signature.default is not None or isinstance(signature.type, GraphQLNonNull):
                return None
            sources[name] = VariableValueSource(signature)
            continue
        sources[name] = VariableValueSource(signature, value)
        if input_is_nested_too_deeply(value, signature.type):
            return None
        found = coerce_input_value(value, signature.type)
        if found is Undefined:
            return None
        coerced[name] = found
    return VariableValues(sources, coerced)


URLSAFE = bytes.maketrans(b"+/", b"-_")


def _cursor(values: list[Any], opening: str) -> str:
    """`pagination._encode`'s cursor, byte for byte, for the common values written out (a
    date or a datetime: its isoformat holds nothing JSON escapes); anything else by it.
    `opening`: the list's name and fingerprint, as JSON text (`pagination._opening`)."""
    parts = []
    for v in values:
        kind = type(v)
        if kind is str:
            parts.append(encode_text(v))
        elif kind is date or kind is datetime:
            parts.append('"' + v.isoformat() + '"')
        elif kind is int:
            parts.append(int.__repr__(v))
        else:
            return _encode(values, opening)
    text = opening + ", ".join(parts) + "]]"
    return b2a_base64(text.encode(), newline=False).translate(URLSAFE).decode().rstrip("=")


def _cursors(
    order: Sequence[tuple[Any, bool]],
    rows: Sequence[Row],
    mode: str,
    name: str,
    args: Mapping[str, Any],
) -> list[str]:
    """The cursors the answer holds (`mode`: "every" row's, the "last" one's, "none"), as
    `page_rows` gives them: the order's columns of each row, made for the list `name` asked
    with `args`."""
    if mode == "none" or not rows:
        return []
    keys = [str(getattr(c, "key", None) or getattr(c, "name", "")) for c, _ in order]
    tag = cursor_tag(name, args, [(k, d) for k, (_, d) in zip(keys, order, strict=True)])
    opening = _opening(tag)
    chosen = rows if mode == "every" else rows[-1:]
    return [_cursor([r[k] for k in keys], opening) for r in chosen]


def _named_object(kind: Any) -> GraphQLObjectType | None:
    """The object type of a field's type through non-null and one list; None otherwise."""
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(inner, GraphQLList):
        inner = inner.of_type
        inner = inner.of_type if isinstance(inner, GraphQLNonNull) else inner
    return inner if isinstance(inner, GraphQLObjectType) else None


def _plain(details: FieldDetailsList) -> bool:
    """No directive a plan does not apply, no fragment arguments, no @defer."""
    for d in details:
        if d.defer_usage is not None or d.fragment_variable_values is not None:
            return False
        if any(x.name.value not in ALLOWED_DIRECTIVES for x in d.node.directives or ()):
            return False
    return True


def _directive_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables any directive of the document reads (@include(if: $x) and the like)."""
    names: dict[str, None] = {}
    todo: list[Any] = list(document.definitions)
    while todo:
        node = todo.pop()
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments or ():
                if isinstance(argument.value, VariableNode):
                    names[argument.value.name.value] = None
        selection_set = getattr(node, "selection_set", None)
        if isinstance(selection_set, SelectionSetNode):
            todo.extend(selection_set.selections)
    return tuple(sorted(names))


async def _settled(
    out: dict[str, Any], pending: Sequence[tuple[str, Awaitable[Any]]]
) -> dict[str, Any]:
    """Each pending field's value in its place in `out`: one awaited alone, several
    concurrently (as graphql-core: their loaders share a list level's round trip)."""
    if len(pending) == 1:
        out[pending[0][0]] = await pending[0][1]
    elif pending:
        done = await asyncio.gather(*(p[1] for p in pending), return_exceptions=True)
        for (key, _), value in zip(pending, done, strict=True):
            if isinstance(value, BaseException):
                raise Fallback from value
            out[key] = value
    return out


async def _enter(context: Context, name: str, args: Mapping[str, Any]) -> None:
    """A root field's horizon (asOf/knownAt) and read-your-writes wait, as its resolver's."""
    token = args.get("consistencyToken")
    await enter(context, name, Asked(args.get("asOf"), args.get("knownAt")), token)
    await context.consistent(token)


class Compiler:
    """Plans for one schema, and the answers they give."""

    def __init__(self, schema: Schema, settings: GatewaySettings, cache: DocumentCache) -> None:
        self.schema: GraphQLSchema = schema._schema
        self.names = schema.config.name_converter
        self.settings = settings
        self.cache = cache
        self.sources = _sources()
        self._coercions: dict[str, Coerce] = {}
        self.answered = 0  # requests a plan answered (tests read it)
        self.roots: dict[str, Callable[[GraphQLField, FieldDetailsList, Any], Run | None]] = {
            "expiringContracts": self._expiring_contracts,
            "contract": self._contract,
            "events": self._events,
        }

    # -- per request ---------------------------------------------------------------------

    async def answer(
        self,
        context: Context,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> dict[str, Any] | None:
        """The answer as strawberry would give it, or None: run it the ordinary way."""
        try:
            return await self._answer(context, query, variables, operation_name)
        except Exception:  # whatever it is, the ordinary path meets it and says it
            return None

    async def _answer(
        self,
        context: Context,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> dict[str, Any] | None:
        try:
            anonymous = context.principal.role.value == "anonymous"
        except GraphQLError:
            anonymous = True  # as the guard: a bad token is measured as anonymous
        found = admitted(self.cache, self.settings, self.schema, query, variables, anonymous)
        if found is None:
            return None
        document, plans = found
        prepared = plans.get(operation_name)
        if prepared is None:
            if len(plans) >= KEPT_VARIANTS:  # operation names are the client's: bounded
                plans.clear()
            prepared = plans[operation_name] = self._prepare(document, operation_name)
        if prepared is NOT_COMPILED:
            return None
        operation, fragments, directive_variables, variants, signatures = prepared
        values: VariableValues | list[GraphQLError] | None
        values = _variable_values(signatures, variables or {})
        if values is None:  # a default, a missing or invalid value: graphql-core's own way
            values = get_variable_values(
                self.schema,
                operation.variable_definitions or (),
                variables or {},
                hide_suggestions=not self.settings.suggestions,
            )
        if isinstance(values, list):
            return None  # coercion errors: strawberry reports them
        try:
            key = tuple(values.coerced.get(n) for n in directive_variables)
            plan = variants.get(key, NOT_COMPILED)
        except TypeError:
            return None
        if plan is NOT_COMPILED:
            if len(variants) >= KEPT_VARIANTS:
                variants.clear()
            plan = variants[key] = self._compile(operation, fragments, values)
        if plan is None:
            return None
        # The plan's statements are kept ones whose rows it reads by column name: they run
        # on the driver's cursor (`DriverForm`); the ordinary path's context reads as before.
        context.read.driver_reads = True
        try:
            data = await plan(context, values)
        except Exception:  # every error is the ordinary path's to report
            return None
        self.answered += 1
        return {"data": data}

    # -- compiling -------------------------------------------------------------------------

    def _prepare(self, document: DocumentNode, operation_name: str | None) -> Any:
        operation: OperationDefinitionNode | None = None
        fragments: dict[str, FragmentDetails] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                if operation_name is None:
                    if operation is not None:
                        return NOT_COMPILED  # which one: graphql-core says
                    operation = definition
                elif definition.name and definition.name.value == operation_name:
                    operation = definition
            elif isinstance(definition, FragmentDefinitionNode):
                if definition.variable_definitions:
                    return NOT_COMPILED
                fragments[definition.name.value] = FragmentDetails(definition)
        if operation is None or operation.operation is not OperationType.QUERY:
            return NOT_COMPILED
        if any(d.name.value not in ALLOWED_DIRECTIVES for d in operation.directives or ()):
            return NOT_COMPILED
        signatures = []
        for variable in operation.variable_definitions or ():
            signature = get_variable_signature(self.schema, variable)
            if isinstance(signature, GraphQLError):
                return NOT_COMPILED
            signatures.append(signature)
        return operation, fragments, _directive_variables(document), {}, tuple(signatures)

    def _compile(
        self,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDetails],
        values: VariableValues,
    ) -> Callable[[Context, VariableValues], Awaitable[dict[str, Any]]] | None:
        root = self.schema.query_type
        assert root is not None
        collected = collect_fields(self.schema, fragments, values, root, operation)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        self._fragments, self._values, self._operation = fragments, values, operation
        steps: list[tuple[str, ArgumentReader | None, FieldNode | None, Run | None]] = []
        for key, details in collected.grouped_field_set.items():
            if not _plain(details):
                return None
            node = details[0].node
            if node.name.value == "__typename":
                steps.append((key, None, None, None))
                continue
            field = root.fields.get(node.name.value)
            make = self.roots.get(node.name.value)
            run = None if field is None or make is None else make(field, details, node)
            if run is None:
                return None
            try:
                read = argument_reader(field, node)
            except Exception:  # a default graphql-core would refuse: it says so
                return None
            steps.append((key, read, node, run))
        typename = root.name

        async def plan(context: Context, values: VariableValues) -> dict[str, Any]:
            data: dict[str, Any] = {}
            asked: list[tuple[str, Run, Mapping[str, Any]]] = []
            for key, read, _, run in steps:
                if run is None:
                    data[key] = typename
                    continue
                assert read is not None
                data[key] = None  # the place of the key in the answer
                asked.append((key, run, read(values)))  # every root's before any runs
            return await _settled(data, [(key, run(context, args)) for key, run, args in asked])

        return plan

    def _sub(self, kind: GraphQLObjectType, details: FieldDetailsList) -> GroupedFieldSet | None:
        collected = collect_subfields(
            self.schema, self._fragments, self._values, self._operation, kind, details
        )
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        return collected.grouped_field_set

    def _coercion(self, leaf: Any) -> Coerce:
        found = self._coercions.get(leaf.name)
        if found is None:
            found = self._coercions[leaf.name] = _leaf_coercion(leaf)
        return found

    def _leaves(self, kind: GraphQLObjectType, details: FieldDetailsList) -> list[Leaf] | None:
        """The leaves of an object whose every selected field reads a column; None else."""
        source = self.sources.get(kind.name)
        grouped = self._sub(kind, details) if source is not None else None
        if source is None or grouped is None:
            return None
        leaves: list[Leaf] = []
        for key, found in grouped.items():
            leaf = self._one_leaf(kind, key, found, source)
            if leaf is None:
                return None
            leaves.append(leaf)
        return leaves

    def _leaf(
        self,
        key: str,
        column: str,
        convert: Callable[[Any], Any] | None,
        leaf: Any,
        non_null: bool,
        is_list: bool,
        items_non_null: bool,
    ) -> Leaf:
        coerce = self._coercion(leaf)
        fast: Any = None
        if is_list:
            fast = TEXT_LIST if coerce in TEXT else None
        elif isinstance(leaf, GraphQLEnumType):
            fast = {}  # filled as values are met (the names of one plan's column)
        elif coerce in TEXT and convert is None:
            fast = TEXT_VALUE
        elif leaf is GraphQLInt and convert is None:
            fast = INT_VALUE
        elif leaf is GraphQLBoolean and convert is None:
            fast = BOOL_VALUE
        elif coerce is ISOFORMAT and convert is None:
            fast = ISO_VALUE
        elif coerce is IDENTITY and convert is None:
            fast = AS_IS
        return (key, None, column, convert, coerce, non_null, is_list, items_non_null, fast)

    def _connection(
        self, field: GraphQLField, details: FieldDetailsList
    ) -> tuple[Page, set[str]] | None:
        """A connection's page (its rows read by `page_rows`, written as totalCount, pageInfo,
        edges with cursors and nodes, nodes), and the columns its nodes read; None when it
        selects anything else."""
        kind = _named_object(field.type)
        grouped = self._sub(kind, details) if kind is not None else None
        if kind is None or grouped is None:
            return None
        columns: set[str] = set()
        parts: list[tuple[str, str, Any]] = []
        for key, found in grouped.items():
            node = found[0].node
            name = node.name.value
            if not _plain(found) or node.arguments:
                return None
            if name == "__typename":
                parts.append((key, name, kind.name))
            elif name == "totalCount":
                parts.append((key, name, None))
            elif name in ("pageInfo", "edges", "nodes"):
                inner = _named_object(kind.fields[name].type)
                assert inner is not None
                if name == "nodes":
                    leaves = self._leaves(inner, found)
                    if leaves is None:
                        return None
                    columns.update(leaf[2] for leaf in leaves if leaf[1] is None)
                    parts.append((key, name, leaves))
                    continue
                sub = self._sub(inner, found)
                if sub is None:
                    return None
                items: list[tuple[str, str, Any]] = []
                for sub_key, sub_found in sub.items():
                    sub_name = sub_found[0].node.name.value
                    if not _plain(sub_found) or sub_found[0].node.arguments:
                        return None
                    if sub_name == "__typename":
                        items.append((sub_key, sub_name, inner.name))
                    elif (name, sub_name) in PLAIN_PARTS:
                        items.append((sub_key, sub_name, None))
                    elif name == "edges" and sub_name == "node":
                        node_kind = _named_object(inner.fields["node"].type)
                        leaves = self._leaves(node_kind, sub_found) if node_kind else None
                        if leaves is None:
                            return None
                        columns.update(leaf[2] for leaf in leaves if leaf[1] is None)
                        items.append((sub_key, sub_name, leaves))
                    else:
                        return None
                parts.append((key, name, items))
            else:
                return None

        def write(total: int, rows: Sequence[Row], cursors: list[str], more: bool) -> Any:
            out: dict[str, Any] = {}
            for key, name, extra in parts:
                if name == "totalCount":
                    out[key] = total
                elif name == "edges":
                    edges = []
                    for i, row in enumerate(rows):
                        edge: dict[str, Any] = {}
                        for sub_key, sub_name, leaves in extra:
                            if sub_name == "node":
                                edge[sub_key] = _write(leaves, row)
                            elif sub_name == "cursor":
                                edge[sub_key] = cursors[i]  # every row's (`mode`)
                            else:
                                edge[sub_key] = leaves  # __typename
                        edges.append(edge)
                    out[key] = edges
                elif name == "nodes":
                    out[key] = [_write(extra, row) for row in rows]
                elif name == "pageInfo":
                    info: dict[str, Any] = {}
                    for sub_key, sub_name, typename in extra:
                        if sub_name == "hasNextPage":
                            info[sub_key] = more
                        elif sub_name == "endCursor":
                            info[sub_key] = cursors[-1] if cursors else None
                        else:
                            info[sub_key] = typename
                    out[key] = info
                else:
                    out[key] = extra  # __typename
            return out

        # The cursors the answer holds: every edge's, or only the page's last (endCursor).
        chosen = {
            (name, item[1])
            for _, name, extra in parts
            if name in ("edges", "pageInfo")
            for item in extra
        }
        mode = (
            "every"
            if ("edges", "cursor") in chosen
            else "last"
            if ("pageInfo", "endCursor") in chosen
            else "none"
        )

        async def page(
            context: Context,
            name: str,
            args: Mapping[str, Any],
            query: Any,
            order: Sequence[tuple[Any, bool]],
            narrowed: tuple[Any, Sequence[str]] | None,
            parameters: dict[str, Any],
            counted: tuple[Any, Mapping[str, Any]] | None = None,
        ) -> Any:
            total, rows, _, more = await page_rows(
                context,
                query,
                order,
                args.get("first"),
                args.get("after"),
                narrowed,
                parameters,
                "none",  # the cursors the answer holds are written here (`_cursors`)
                fill=False,  # narrowed: the plan reads only the columns it selected
                counted=counted,
                listed=lambda: (name, args),  # the root field's name: its resolver's
            )
            return write(total, rows, _cursors(order, rows, mode, name, args), more)

        return page, columns

    # -- the root fields a plan answers ------------------------------------------------------

    def _expiring_contracts(
        self, field: GraphQLField, details: FieldDetailsList, node: FieldNode
    ) -> Run | None:
        from gateway.schema.filters import ContractFilter, DateRange, contract_query
        from gateway.schema.registry_types import CONTRACT_BASE

        found = self._connection(field, details)
        if found is None:
            return None
        page, selected = found
        columns = tuple(sorted({*CONTRACT_BASE, *selected}))
        name = node.name.value

        async def run(context: Context, args: Mapping[str, Any]) -> Any:
            await enter(context, name, Asked(args.get("asOf"), args.get("knownAt")), None)
            read = context.read
            c = read.contracts.contracts
            expiring = ContractFilter(expiring=DateRange(from_=args["from"], to=args["to"]))
            query, parameters = contract_query(read, expiring, context.principal, active_only=True)
            order = [(c.c.end_date, False), (c.c.contract_id, False)]
            return await page(context, name, args, query, order, (c, columns), parameters)

        return run

    def _events(
        self, field: GraphQLField, details: FieldDetailsList, node: FieldNode
    ) -> Run | None:
        from gateway.schema.events import EventFilter, event_log_query, stored_count

        found = self._connection(field, details)
        if found is None:
            return None
        page, _ = found  # the event log's pages read whole rows (as its resolver)
        definition = EventFilter.__strawberry_definition__  # type: ignore[attr-defined]
        names = {self.names.from_field(f): f.python_name for f in definition.fields}
        name = node.name.value

        async def run(context: Context, args: Mapping[str, Any]) -> Any:
            await _enter(context, name, args)
            given = args.get("filter")
            f = None if given is None else EventFilter(**{names[k]: v for k, v in given.items()})
            query, order, parameters = event_log_query(context, f)
            counted = stored_count(context, f)
            return await page(context, name, args, query, order, None, parameters, counted)

        return run

    def _contract(
        self, field: GraphQLField, details: FieldDetailsList, node: FieldNode
    ) -> Run | None:
        from gateway.schema.registry_types import (
            call_offs_seen,
            contract_participants,
            may_see_contract,
        )

        kind = _named_object(field.type)
        grouped = self._sub(kind, details) if kind is not None else None
        if kind is None or grouped is None:
            return None
        source = self.sources["Contract"]
        # (key, leaf) or (key, list field, its leaves, the columns its loader reads)
        parts: list[tuple[str, Any, Any, tuple[str, ...]]] = []
        for key, found in grouped.items():
            sub = found[0].node
            if not _plain(found) or sub.arguments:
                return None
            if sub.name.value in ("participants", "callOffs"):
                inner = _named_object(kind.fields[sub.name.value].type)
                leaves = self._leaves(inner, found) if inner is not None else None
                if leaves is None:
                    return None
                base = (
                    ("tender_id", "organisation_code", "participates", "lot_ids")
                    if sub.name.value == "participants"
                    else ("call_off_id", "participant_code")
                )
                wanted = {*base, *(leaf[2] for leaf in leaves if leaf[1] is None)}
                parts.append((key, sub.name.value, leaves, tuple(sorted(wanted))))
                continue
            own = self._one_leaf(kind, key, found, source)
            if own is None:
                return None
            parts.append((key, None, [own], ()))
        name = node.name.value

        async def participants(
            context: Context, row: Row, leaves: list[Leaf], columns: tuple[str, ...]
        ) -> list[dict[str, Any]]:
            context.require_signed_in("the participant list")
            if row["tender_id"] is None:
                return []
            loader = context.loaders.participants_by_tender.narrow(columns)
            rows = await loader.load(row["tender_id"])
            call_off = ContractKind(row["kind"]) is ContractKind.CALL_OFF
            chosen = contract_participants(
                call_off, row["contracting_authority"], row["lot_ids"], rows
            )
            return [_write(leaves, r) for r in chosen]

        async def call_offs(
            context: Context, row: Row, leaves: list[Leaf], columns: tuple[str, ...]
        ) -> list[dict[str, Any]]:
            principal = context.require_signed_in("the call-off list")
            loader = context.loaders.call_offs_by_framework.narrow(columns)
            rows = await loader.load(row["contract_id"])
            return [_write(leaves, r) for r in call_offs_seen(principal, rows)]

        lists = {"participants": participants, "callOffs": call_offs}

        async def run(context: Context, args: Mapping[str, Any]) -> Any:
            await _enter(context, name, args)
            row = await context.loaders.contract.load(args["contractId"])
            principal = context.principal
            if not row or not may_see_contract(principal, row):
                return None
            out: dict[str, Any] = {}
            pending: list[tuple[str, Awaitable[Any]]] = []
            for key, list_name, leaves, columns in parts:
                if list_name is None:
                    out.update(_write(leaves, row))
                    continue
                out[key] = None  # its place in the answer
                pending.append((key, lists[list_name](context, row, leaves, columns)))
            return await _settled(out, pending)

        return run

    def _one_leaf(
        self,
        kind: GraphQLObjectType,
        key: str,
        found: FieldDetailsList,
        source: Mapping[str, tuple[str, Callable[[Any], Any] | None]],
    ) -> Leaf | None:
        """A selected field that reads a column (or `__typename`) as its leaf; None else."""
        node = found[0].node
        if not _plain(found) or node.arguments or node.selection_set is not None:
            return None
        if node.name.value == "__typename":
            return (key, kind.name, "", None, None, True, False, False, None)
        field = kind.fields.get(node.name.value)
        attribute = _attribute(field) if field is not None else None
        if field is None or attribute is None or attribute not in source:
            return None
        leaf, non_null, is_list, items_non_null = _shape(field.type)
        if leaf is None:
            return None
        column, convert = source[attribute]
        return self._leaf(key, column, convert, leaf, non_null, is_list, items_non_null)
