"""Errors a client may see verbatim; everything else is masked."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


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
