"""The GraphQL SDL, written to contracts-schema/generated/schema.graphql by `make schema`."""

from __future__ import annotations

from gateway.schema.build import build_schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
