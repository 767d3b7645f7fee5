"""The compiled executor's argument reader gives what graphql-core's `get_argument_values`
gives, for literals, variables given, null and left out, defaults, and input objects holding
variables; where graphql-core raises, the reader raises Invalid."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from graphql.execution.values import get_argument_values, get_variable_values

from gateway.schema.arguments import Invalid, argument_reader
from gateway.schema.build import build_schema

SCHEMA = build_schema()._schema
EVENTS = """query($f: EventFilter, $t: AggregateType, $id: String, $b: DateTime, $n: Int,
  $types: [String!], $a: String) {
  events(filter: {aggregateType: $t, aggregateId: $id, recordedBefore: $b, eventTypes: $types},
    first: $n, after: $a) { totalCount }
  whole: events(filter: $f, first: 3) { totalCount }
  literal: events(filter: {aggregateType: TENDER, eventTypes: ["A", "B"], context: REGISTRY})
    { totalCount }
  listed: events(filter: {eventTypes: [$id, "x"]}) { totalCount }
}"""
EXPIRING = """query($from: Date!, $to: Date!, $first: Int, $asOf: Date) {
  expiringContracts(from: $from, to: $to, first: $first, asOf: $asOf) { totalCount }
  fixed: expiringContracts(from: "2020-01-01", to: "2021-01-01", first: 5) { totalCount }
}"""
CASES: list[tuple[str, dict[str, Any]]] = [
    (EVENTS, {}),
    (EVENTS, {"t": "TENDER", "id": "t-1", "b": "2020-01-01T00:00:00+00:00", "n": 4}),
    (EVENTS, {"t": None, "id": None, "types": ["A"], "a": "abc"}),
    (EVENTS, {"f": {"aggregateType": "CONTRACT", "organisationCode": "GM0363"}}),
    (EVENTS, {"f": None, "types": None}),
    (EXPIRING, {"from": "2020-01-01", "to": "2020-12-31"}),
    (EXPIRING, {"from": "2020-01-01", "to": "2020-12-31", "first": None, "asOf": "2019-01-01"}),
]


def fields(query: str) -> tuple[OperationDefinitionNode, list[FieldNode]]:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    found = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    return operation, found


@pytest.mark.parametrize(("query", "variables"), CASES)
def test_the_reader_gives_what_graphql_core_gives(query: str, variables: dict[str, Any]) -> None:
    operation, nodes = fields(query)
    values = get_variable_values(SCHEMA, operation.variable_definitions or (), variables)
    assert not isinstance(values, list)
    assert SCHEMA.query_type is not None
    for node in nodes:
        field = SCHEMA.query_type.fields[node.name.value]
        try:
            expected: Any = get_argument_values(field, node, values)
        except GraphQLError:
            expected = Invalid
        try:
            got: Any = argument_reader(field, node)(values)
        except Invalid:
            got = Invalid
        assert got == expected, node.alias or node.name


def test_a_null_where_the_type_is_non_null_is_invalid_as_in_graphql_core() -> None:
    query = """query($from: Date, $to: Date!) {
      expiringContracts(from: $from, to: $to) { totalCount } }"""
    operation, [node] = fields(query)
    values = get_variable_values(SCHEMA, operation.variable_definitions or (), {"to": "2020-01-01"})
    assert not isinstance(values, list)
    assert SCHEMA.query_type is not None
    field = SCHEMA.query_type.fields["expiringContracts"]
    with pytest.raises(GraphQLError):
        get_argument_values(field, node, values)
    with pytest.raises(Invalid):
        argument_reader(field, node)(values)
