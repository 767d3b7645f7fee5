"""A field's argument values, read by a reader compiled once per field node.

graphql-core's `get_argument_values` walks every argument's literal and coerces it afresh on
each request (an input object literal of the event log's filter: ~90 us). A literal without
variables coerces to the same value every time; only the variables in it change. The reader
keeps the constant parts as coerced once and fills in the variables' coerced values per
request, with graphql-core's rules for a variable not given (the default, or the field left
out) and for a null where the type is non-null (`Invalid`: the caller then lets graphql-core
report it). Anything else that holds a variable (a list of variables, a variable inside a
list) is coerced by graphql-core per request, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    ObjectValueNode,
    Undefined,
    ValueNode,
    VariableNode,
)
from graphql.execution.values import VariableValues
from graphql.type.definition import is_required_argument, is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value, coerce_input_literal


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
        return coerced

    return read
