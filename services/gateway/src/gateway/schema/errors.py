"""Errors a client may see verbatim; everything else is masked."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError

from contracts_schema.refusals import REFUSALS


class ClientError(GraphQLError):
    """An error whose message is meant for the client (never masked)."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code or self.code, **extensions})


class Forbidden(ClientError):
    code = "FORBIDDEN"


class InvalidArgument(ClientError):
    code = "INVALID_ARGUMENT"


def is_client_error(error: GraphQLError) -> bool:
    """Validation errors (no original error) and ClientErrors pass; the rest is masked."""
    original = error.original_error
    if original is None:
        return True  # parse/validation errors, incl. the depth, token and alias limits
    return isinstance(original, ClientError | GraphQLError)


def _described(code: str) -> str:
    r = REFUSALS[code]
    return f"{r.rule} Source: {r.source}. Example: {r.example}"


# The catalogue of refusal codes (contracts_schema.refusals), one enum value per code.
_values = {code: strawberry.enum_value(code, description=_described(code)) for code in REFUSALS}
_enum: Any = Enum("RefusalCode", _values)  # type: ignore[misc]
RefusalCode: Any = strawberry.enum(
    _enum,
    description="Why a command was refused: the rule, its legal source and an example"
    " (docs/refusal-codes.md).",
)


def refusal_code(code: str) -> Any:
    """The enum value of a code, or None for a code this gateway does not know (a newer
    service): `DomainError.code` still carries it as a string."""
    return RefusalCode[code] if code in REFUSALS else None
