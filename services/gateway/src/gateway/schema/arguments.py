"""A field's argument values, read by a reader compiled once per field node.

graphql-core's `get_argument_values` walks every argument's literal and coerces it afresh on
each request (an input object literal of the event log's filter: ~90 us). A literal without
variables coerces to the same value every time; only the variables in it change. The reader
keeps the constant parts as coerced once and fills in the variables' coerced values per
request, with graphql-core's rules for a variable not given (the default, or the field left
out) and for a null where the type is non-null (`Invalid`: the caller then lets graphql-core
report it). Anything else that holds a variable (a list of variables, a variable inside a
list) is coerced by graphql-core per request, as before.

It also holds the read side's bound on ids (`bound_ids`): an argument naming an entity by its
id is refused when longer than any id a command accepts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from inspect import isawaitable
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    ObjectValueNode,
    Undefined,
    ValueNode,
    VariableNode,
    default_field_resolver,
    get_named_type,
)
from graphql.execution.values import VariableValues
from graphql.type.definition import is_required_argument, is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value, coerce_input_literal

from contracts_schema.base import ID_MAX
from gateway.schema.errors import InvalidArgument


class Invalid(Exception):
    """A value graphql-core would refuse (a required value missing, a null where not allowed)."""


Reader = Callable[[VariableValues], Any]  # Undefined: no value (a field left out)


def _has_variables(node: ValueNode) -> bool:
    todo: list[Any] = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, VariableNode):
            return True
        todo.extend(getattr(item, "values", None) or ())  # a list's items
        todo.extend(f.value for f in getattr(item, "fields", None) or ())  # an object's
    return False


def _value(node: ValueNode, kind: GraphQLInputType) -> Reader:
    """A reader of one value as `coerce_input_literal` gives it (Undefined when invalid)."""
    if not _has_variables(node):
        constant = coerce_input_literal(node, kind)
        return lambda _: constant
    if isinstance(node, VariableNode):
        name, non_null = node.name.value, isinstance(kind, GraphQLNonNull)

        def variable(values: VariableValues) -> Any:
            value = values.coerced.get(name, Undefined)
            if non_null and (value is None or value is Undefined):
                return Undefined
            return value

        return variable
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(node, ObjectValueNode) and isinstance(inner, GraphQLInputObjectType):
        found = _object(node, inner)
        if found is not None:
            return found
    return lambda values: coerce_input_literal(node, kind, values)


def _object(node: ObjectValueNode, kind: GraphQLInputObjectType) -> Reader | None:
    """An input object literal holding variables, field by field as graphql-core coerces it;
    None for what this does not read (oneOf, a field the type does not define)."""
    given = {f.name.value: f for f in node.fields}
    if kind.is_one_of or any(name not in kind.fields for name in given):
        return None
    # (out name, reader, the variable whose absence leaves the field out, default, required)
    parts: list[tuple[str, Reader | None, str | None, Any, bool]] = []
    for name, field in kind.fields.items():
        out = field.out_name or name
        found = given.get(name)
        required = is_required_input_field(field)
        default = Undefined if required else coerce_default_value(field)
        if found is None:
            if required:
                return None  # invalid: graphql-core says so
            parts.append((out, None, None, default, required))
            continue
        absent = found.value.name.value if isinstance(found.value, VariableNode) else None
        parts.append((out, _value(found.value, field.type), absent, default, required))
    out_type = kind.out_type

    def read(values: VariableValues) -> Any:
        coerced: dict[str, Any] = {}
        for out, reader, absent, default, required in parts:
            if reader is None or (absent is not None and absent not in values.coerced):
                if required:
                    return Undefined
                if default is not Undefined:
                    coerced[out] = default
                continue
            value = reader(values)
            if value is Undefined:
                return Undefined
            coerced[out] = value
        return out_type(coerced)

    return read


def argument_reader(
    field: GraphQLField, node: FieldNode
) -> Callable[[VariableValues], Mapping[str, Any]]:
    """The field's argument values, as `get_argument_values(field, node, values)` gives them;
    raises Invalid where that raises (the caller lets graphql-core report it)."""
    given = {a.name.value: a for a in node.arguments or ()}
    parts: list[tuple[str, Reader | None, str | None, Any, bool]] = []
    for name, arg in field.args.items():
        out = arg.out_name or name
        required = is_required_argument(arg)
        default = Undefined if required else coerce_default_value(arg)
        found = given.get(name)
        if found is None:
            parts.append((out, None, None, default, required))
            continue
        absent = found.value.name.value if isinstance(found.value, VariableNode) else None
        parts.append((out, _value(found.value, arg.type), absent, default, required))
    bounded: Check | None = (field.extensions or {}).get(ID_BOUND)  # `bound_ids`

    def read(values: VariableValues) -> Mapping[str, Any]:
        coerced: dict[str, Any] = {}
        for out, reader, absent, default, required in parts:
            if reader is None or (absent is not None and absent not in values.coerced):
                if required:
                    if reader is None:
                        raise Invalid(out)
                else:
                    if default is not Undefined:
                        coerced[out] = default
                    continue
            assert reader is not None
            value = reader(values)
            if value is Undefined:
                raise Invalid(out)
            coerced[out] = value
        if bounded is not None:
            bounded(coerced)  # InvalidArgument: the ordinary path refuses it, saying why
        return coerced

    return read


# -- ids on the read side ---------------------------------------------------------------------

# Commands take ids of at most ID_MAX characters (contracts_schema.base.Identifier; an
# organisation code is shorter still), so no stored entity has a longer one. A query naming one
# answered null or an empty page, after reading the database for it, whatever its length (a
# 100,000-character tenderId: correct20); it is refused instead, as INVALID_ARGUMENT naming the
# argument. An id of the right length that names nothing is still null or an empty page.

# Arguments naming one entity by id, by (type, field).
ID_ARGUMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Query", "tender"): ("tenderId",),
    ("Query", "contract"): ("contractId",),
    ("Query", "organisation"): ("code",),
    ("Query", "supplier"): ("supplierId",),
    ("Query", "ocds"): ("tenderId",),
    ("Statistics", "participationByProgramme"): ("programmeId",),
    ("Statistics", "participationByProgrammeAndProvince"): ("programmeId",),
}
# Arguments naming an aggregate as <type>/<id> or <context>/<type>/<id>, by (type, field).
AGGREGATE_ARGUMENTS: dict[tuple[str, str], str] = {("Query", "history"): "aggregate"}
# The read side's input types' fields that are ids, wherever the type is an argument. (The
# mutations' inputs are commands: their own validation refuses a long id, as INVALID_INPUT.)
ID_INPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "TenderFilter": ("programmeId", "contractingAuthority"),
    "ContractFilter": ("supplierId", "buyer", "tenderId"),
    "CallOffFilter": ("frameworkContractId", "participantCode", "supplierId"),
    "EventFilter": ("aggregateId", "organisationCode"),
    "LiveEventFilter": ("aggregateId", "organisationCode"),
    "LawFindingFilter": ("contractingAuthority", "tenderId", "contractId"),
}
ID_BOUND = "gateway.id_bound"  # a field's extension: the check of its id arguments
Check = Callable[[Mapping[str, Any]], None]


def require_id(name: str, value: object) -> None:
    """InvalidArgument when `value` is longer than any id (None and short values pass)."""
    if isinstance(value, str) and len(value) > ID_MAX:
        raise InvalidArgument(
            f"`{name}` is {len(value)} characters long; an id is at most {ID_MAX} characters"
        )


def require_aggregate(name: str, value: object) -> None:
    """`<type>/<id>` (or `<context>/<type>/<id>`) whose parts are no longer than an id."""
    if not isinstance(value, str):
        return
    parts = value.split("/")
    if len(value) > 3 * ID_MAX + 2 or any(len(part) > ID_MAX for part in parts):
        raise InvalidArgument(
            f"`{name}` is {len(value)} characters long; write <type>/<id> with an id of at"
            f" most {ID_MAX} characters"
        )


def _check(type_name: str, field_name: str, field: GraphQLField) -> Check | None:
    """The check of a field's id arguments, or None when it has none."""
    ids = ID_ARGUMENTS.get((type_name, field_name), ())
    aggregate = AGGREGATE_ARGUMENTS.get((type_name, field_name))
    inputs = [
        (name, ID_INPUT_FIELDS[kind.name])
        for name, arg in field.args.items()
        if (kind := get_named_type(arg.type)).name in ID_INPUT_FIELDS
    ]
    missing = [n for n in (*ids, *([aggregate] if aggregate else [])) if n not in field.args]
    if missing:  # the table names an argument the schema does not have: a stale table
        raise LookupError(f"{type_name}.{field_name} has no argument {missing[0]!r}")
    if not ids and aggregate is None and not inputs:
        return None

    def check(args: Mapping[str, Any]) -> None:
        for name in ids:
            require_id(name, args.get(name))
        if aggregate is not None:
            require_aggregate(aggregate, args.get(aggregate))
        for name, fields in inputs:
            given = args.get(name)
            if isinstance(given, Mapping):
                for inner in fields:
                    require_id(f"{name}.{inner}", given.get(inner))

    return check


def bound_ids(schema: GraphQLSchema) -> None:
    """Every read-side field with an id argument checks it before its resolver runs (and
    before a subscription starts); the compiled plans read the same check (`argument_reader`)."""
    for kind in schema.type_map.values():
        if not isinstance(kind, GraphQLObjectType) or kind is schema.mutation_type:
            continue
        for name, field in kind.fields.items():
            check = _check(kind.name, name, field)
            if check is None or (field.extensions or {}).get(ID_BOUND) is not None:
                continue
            field.extensions = {**(field.extensions or {}), ID_BOUND: check}
            if field.subscribe is not None:
                field.subscribe = _checked_stream(field.subscribe, check)
            else:
                field.resolve = _checked(field.resolve or default_field_resolver, check)


def _checked(resolve: Callable[..., Any], check: Check) -> Callable[..., Any]:
    def checked(source: Any, info: Any, **args: Any) -> Any:
        check(args)
        return resolve(source, info, **args)

    return checked


def _checked_stream(subscribe: Callable[..., Any], check: Check) -> Callable[..., Any]:
    """The check inside the stream, at its first item, as the field's own refusals are
    (correct22): raised by `subscribe` itself it was a pre-execution error, which
    graphql-transport-ws answers with its protocol `error` message; raised in the stream it is
    a `next` with `errors`, then `complete`, as a query's refusal is. The field's stream is
    asked for only once the arguments passed."""

    async def checked(source: Any, info: Any, **args: Any) -> AsyncIterator[Any]:
        check(args)
        stream = subscribe(source, info, **args)
        if isawaitable(stream):
            stream = await stream
        try:
            async for item in stream:
                yield item
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    return checked
