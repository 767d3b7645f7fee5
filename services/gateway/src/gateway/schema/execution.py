"""Execution without per-field Python for plain attributes.

graphql-core resolves every field of every row on its own: resolve info, resolver, completion,
coercion, each a handful of calls. For a field that only reads an attribute (a strawberry field
with no resolver, no extension, no arguments, no directive) of a scalar or enum type, or a list
of one, the answer is the attribute coerced: this execution context reads those directly and
hands every other field (resolvers, access rules, objects, errors) to graphql-core as before.

Nothing changes in what a client sees: a value the shortcut cannot complete (a null where the
schema says non-null, a value the scalar refuses) is resolved again the ordinary way, which
reports it as graphql-core always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

FAILED = object()  # the shortcut could not complete the value: resolve it the ordinary way
LEAF, NESTED, OTHER = object(), object(), object()  # how a plan's step is completed
# Coercions that give a str back as it is (String and ID serialise text unchanged).
TEXT = frozenset({GraphQLString.coerce_output_value, GraphQLID.coerce_output_value})
Coerce = Callable[[Any], Any]
# (response key, attribute, coerce, non-null, list, items non-null); attribute None: __typename
Leaf = tuple[str, str | None, Coerce | None, bool, bool, bool]
# (response key, attribute, object type, non-null, field details): an object read from a plain
# attribute (an edge's `node`, a connection's `pageInfo`), completed by its own plan
Nested = tuple[str, str, GraphQLObjectType, bool, FieldDetailsList]
Plan = list[Leaf | Nested | tuple[str, FieldDetailsList]]


def _leaf_coercion(leaf: GraphQLScalarType | GraphQLEnumType) -> Coerce:
    if isinstance(leaf, GraphQLEnumType):
        # An enum's coercion searches its values; a member's name never changes.
        names: dict[Any, Any] = {}
        coerce = leaf.coerce_output_value

        def enum_name(value: Any) -> Any:
            try:
                return names[value]
            except KeyError:
                name = names[value] = coerce(value)
                return name
            except TypeError:  # unhashable: not a member; coercion says what is wrong
                return coerce(value)

        return enum_name
    return leaf.coerce_output_value


def _shape(kind: GraphQLOutputType) -> tuple[Any, bool, bool, bool]:
    """(leaf type or None, non-null, list, items non-null) of a field's type."""
    non_null = isinstance(kind, GraphQLNonNull)
    inner: Any = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    is_list = isinstance(inner, GraphQLList)
    items_non_null = False
    if is_list:
        inner = inner.of_type
        items_non_null = isinstance(inner, GraphQLNonNull)
        inner = inner.of_type if items_non_null else inner
        if isinstance(inner, GraphQLList):
            return None, non_null, is_list, items_non_null  # nested lists: not planned
    leaf = inner if isinstance(inner, GraphQLScalarType | GraphQLEnumType) else None
    return leaf, non_null, is_list, items_non_null


def _attribute(field: GraphQLField) -> str | None:
    """The attribute a field reads, when reading it is all the field does."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if field.args or definition.default_resolver is not getattr:
        return None
    return definition.python_name


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Plans by field set: graphql-core collects a list's item fields once per request
        # (and keeps them alive), so every row of a list shares one plan.
        self._plans: dict[int, tuple[GroupedFieldSet, Plan]] = {}
        self._coercions: dict[str, Coerce] = {}
        # Whole-object plans by (type, field details), kept alive as graphql-core keeps them.
        self._objects: dict[tuple[str, int], tuple[FieldDetailsList, Plan | None]] = {}
        self._compiled_plans: dict[int, tuple[Plan, list[tuple[Any, ...]]]] = {}

    def _plan(self, parent: GraphQLObjectType, fields: GroupedFieldSet) -> Plan:
        known = self._plans.get(id(fields))
        if known is not None and known[0] is fields:
            return known[1]
        plan: Plan = []
        for key, details in fields.items():
            node = details[0].node
            if len(details) == 1 and node.selection_set is None and not node.directives:
                if node.name.value == "__typename":
                    plan.append((key, None, None, True, False, False))
                    continue
                field = parent.fields.get(node.name.value)
                attribute = _attribute(field) if field is not None else None
                leaf, non_null, is_list, items_non_null = (
                    _shape(field.type) if field is not None else (None, False, False, False)
                )
                if attribute is not None and leaf is not None and not node.arguments:
                    coerce = self._coercions.get(leaf.name)
                    if coerce is None:
                        coerce = self._coercions[leaf.name] = _leaf_coercion(leaf)
                    plan.append((key, attribute, coerce, non_null, is_list, items_non_null))
                    continue
            elif len(details) == 1 and not node.directives and not node.arguments:
                field = parent.fields.get(node.name.value)
                attribute = _attribute(field) if field is not None else None
                kind = field.type if field is not None else None
                non_null = isinstance(kind, GraphQLNonNull)
                inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
                if attribute is not None and isinstance(inner, GraphQLObjectType):
                    plan.append((key, attribute, inner, non_null, details))
                    continue
            plan.append((key, details))
        self._plans[id(fields)] = (fields, plan)
        return plan

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        middleware = self.middleware_manager
        if middleware is None or not middleware.middlewares:  # else it must see every field
            rows = self._plain_rows(item_type, field_details_list, info, items)
            if rows is not None:
                return rows
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _plain_rows(
        self, item_type: GraphQLOutputType, details: FieldDetailsList, info: Any, items: Any
    ) -> list[Any] | None:
        """A list of objects whose selected fields are all plain, as a list of dicts; None
        when anything in it needs graphql-core (the whole list is then completed by it)."""
        items_non_null = isinstance(item_type, GraphQLNonNull)
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(inner, GraphQLObjectType) or not isinstance(items, list | tuple):
            return None
        if any(d.node.directives for d in details):  # @stream and the like
            return None
        plan = self._object_plan(inner, details)
        if plan is None:
            return None
        steps = self._compiled(plan)  # once for the list, not per row
        rows: list[Any] = []
        for item in items:
            if item is None:
                if items_non_null:
                    return None
                rows.append(None)
                continue
            row = self._plain_object(inner, plan, item, info, steps)
            if row is FAILED:
                return None
            rows.append(row)
        return rows

    def _object_plan(self, kind: GraphQLObjectType, details: FieldDetailsList) -> Plan | None:
        """The plan of an object's selection when every field in it (nested objects
        included) is plain; None otherwise."""
        known = self._objects.get((kind.name, id(details)))
        if known is not None and known[0] is details:
            return known[1]
        plan: Plan | None = None
        grouped, new_defer_usages, forbidden = self.collect_subfields(kind, details)
        if not new_defer_usages and not forbidden:
            plan = self._plan(kind, grouped)
            for entry in plan:
                if len(entry) == 5:
                    if self._object_plan(entry[2], entry[4]) is None:
                        plan = None
                        break
                elif len(entry) != 6:
                    plan = None
                    break
        self._objects[kind.name, id(details)] = (details, plan)
        return plan

    def _compiled(self, plan: Plan) -> list[tuple[Any, ...]]:
        """A plan's entries tagged by how a value is completed, once per plan (the loop over
        rows below then takes no decision twice)."""
        found = self._compiled_plans.get(id(plan))
        if found is not None and found[0] is plan:
            return found[1]
        steps: list[tuple[Any, ...]] = []
        for entry in plan:
            if len(entry) == 5:
                steps.append((NESTED, *entry))
            elif len(entry) == 6:
                key, attribute, coerce, non_null, is_list, _ = entry
                if attribute is None or is_list or coerce is None:
                    steps.append((OTHER, key, entry))
                else:
                    steps.append((LEAF, key, attribute, coerce, non_null, coerce in TEXT, entry))
            else:
                steps.append((OTHER, entry[0], None))  # not in a plan _object_plan gave
        self._compiled_plans[id(plan)] = (plan, steps)
        return steps

    def _plain_object(
        self,
        kind: GraphQLObjectType,
        plan: Plan,
        item: Any,
        info: Any,
        steps: list[tuple[Any, ...]] | None = None,
    ) -> Any:
        """One object completed by its (all plain) plan: a dict, or FAILED. `steps`: the
        plan's, when the caller has them."""
        is_type_of = kind.is_type_of
        if is_type_of is not None and is_type_of(item, info) is not True:
            return FAILED
        row: dict[str, Any] = {}
        for step in steps if steps is not None else self._compiled(plan):
            tag, key = step[0], step[1]
            if tag is LEAF:
                # The common cases inline (text as it is, an enum or a scalar coerced, a null
                # where one may be); a value missing or refused by _complete, which fails.
                _, _, attribute, coerce, non_null, text, entry = step
                value = getattr(item, attribute, FAILED)
                if value is not FAILED:
                    if text and type(value) is str:
                        row[key] = value
                        continue
                    if value is None:
                        if non_null:
                            return FAILED
                        row[key] = None
                        continue
                    try:
                        out = coerce(value)
                    except Exception:
                        return FAILED
                    if out is None or out is Undefined:
                        return FAILED
                    row[key] = out
                    continue
                value = _complete(item, kind, entry)
            elif tag is NESTED:
                _, _, name, inner, non_null, details = step
                value = getattr(item, name, FAILED)
                if value is None and not non_null:
                    row[key] = None
                    continue
                if value is FAILED or value is None:
                    return FAILED
                sub = self._object_plan(inner, details)
                value = FAILED if sub is None else self._plain_object(inner, sub, value, info)
            else:
                entry = step[2]
                value = FAILED if entry is None else _complete(item, kind, entry)
            if value is FAILED:
                return FAILED
            row[key] = value
        return row

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:  # it must see every field
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for entry in self._plan(parent_type, grouped_field_set):
                key = entry[0]
                value: Any = FAILED
                if len(entry) == 6:
                    value = _complete(source_value, parent_type, entry)
                elif len(entry) == 5:
                    value = self._nested(source_value, entry)
                if value is FAILED:
                    value = self.execute_field(
                        parent_type,
                        source_value,
                        grouped_field_set[key],
                        Path(path, key, parent_type.name),
                        position_context,
                    )
                    if value is Undefined:
                        continue
                    if is_awaitable(value):
                        pending.append(key)
                results[key] = value
        except Exception:
            if pending:
                self.settle_in_background([results[key] for key in pending])
            raise
        if not pending:
            return results
        return _awaited(results, pending)

    def _nested(self, source: Any, entry: Nested) -> Any:
        """An object field read from a plain attribute, completed by its plan when all of
        it is plain; FAILED otherwise (graphql-core completes it, errors included)."""
        _, attribute, kind, non_null, details = entry
        value = getattr(source, attribute, FAILED)
        if value is None:
            return FAILED if non_null else None
        if value is FAILED or self.is_awaitable(value):
            return FAILED
        plan = self._object_plan(kind, details)
        return FAILED if plan is None else self._plain_object(kind, plan, value, None)


async def _awaited(results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
    """As graphql-core: one field awaited alone, several concurrently."""
    if len(pending) == 1:
        results[pending[0]] = await results[pending[0]]
    else:
        awaited = await gather_with_cancel(*(results[key] for key in pending))
        results.update(zip(pending, awaited, strict=True))
    return results


def _complete(source: Any, parent: GraphQLObjectType, leaf: Leaf) -> Any:
    _, attribute, coerce, non_null, is_list, items_non_null = leaf
    if attribute is None:
        return parent.name
    try:
        return complete_leaf(getattr(source, attribute), coerce, non_null, is_list, items_non_null)
    except Exception:
        return FAILED


def complete_leaf(
    value: Any, coerce: Coerce | None, non_null: bool, is_list: bool, items_non_null: bool
) -> Any:
    """A leaf's value as graphql-core completes it (text as it is, else the type's
    coercion, item by item for a list); FAILED where graphql-core would report an error
    (a null where the schema says non-null, a value the coercion refuses)."""
    if value is None:
        return FAILED if non_null else None
    assert coerce is not None
    if not is_list:
        if type(value) is str and coerce in TEXT:
            return value
        out = coerce(value)
        return FAILED if out is None or out is Undefined else out
    if not isinstance(value, list | tuple):
        return FAILED  # anything else graphql-core completes (or refuses) itself
    if coerce in TEXT and all(type(item) is str for item in value):
        return list(value)  # text is given as it is
    items: list[Any] = []
    for item in value:
        if item is None:
            if items_non_null:
                return FAILED
            items.append(None)
            continue
        out = coerce(item)
        if out is None or out is Undefined:
            return FAILED
        items.append(out)
    return items
