"""The API explains itself: every mutation, and every field of every input, has a description."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, build_schema

from gateway.sdl import export_sdl


def test_every_mutation_and_input_field_is_described() -> None:
    schema = build_schema(export_sdl())
    undescribed = [
        f"{name}.{field}"
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLInputObjectType) and not name.startswith("__")
        for field, value in kind.fields.items()
        if not value.description
    ]
    assert schema.mutation_type is not None
    undescribed += [
        f"Mutation.{field}"
        for field, value in schema.mutation_type.fields.items()
        if not value.description
    ]
    assert undescribed == [], f"describe these in the schema: {undescribed}"
