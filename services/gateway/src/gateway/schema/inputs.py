"""GraphQL input types generated from the contract's pydantic command models (no drift)."""

from __future__ import annotations

import datetime as dt
import types
import typing
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, Optional, Union, get_args, get_origin

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON

from gateway.schema.enums import LITERAL_ENUMS

SCALARS: tuple[type, ...] = (str, int, float, bool, dt.date, dt.datetime, Decimal)
_cache: dict[type[BaseModel], type] = {}


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def graphql_type(annotation: Any, name: str) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return graphql_type(get_args(annotation)[0], name)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return Optional[graphql_type(inner[0], name)] if len(inner) == 1 else JSON  # noqa: UP045
    if origin in (list, tuple, set, frozenset) or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable")
    ):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return list[graphql_type(args[0], name)] if args else list[JSON]  # type: ignore[misc]
    if origin is Literal:
        # A closed set of words: the GraphQL enum with the same values (gateway.schema.enums).
        return LITERAL_ENUMS.get(frozenset(str(a) for a in get_args(annotation)), str)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return input_type(annotation, f"{name}Input")
        if issubclass(annotation, Enum):
            return LITERAL_ENUMS.get(frozenset(str(e.value) for e in annotation), str)
        for scalar in SCALARS[::-1]:  # datetime before date, bool before int
            if issubclass(annotation, scalar):
                return scalar
    return JSON


def input_type(model: type[BaseModel], name: str) -> type:
    if model in _cache:
        return _cache[model]
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        kind = graphql_type(info.annotation, f"{name.removesuffix('Input')}{camel(field_name)}")
        optional = not info.is_required() or field_name == "command_id"
        annotations[field_name] = Optional[kind] if optional else kind  # noqa: UP045
        namespace[field_name] = strawberry.field(
            description=info.description or None, default=None if optional else strawberry.UNSET
        )
        if not optional:
            namespace[field_name] = strawberry.field(description=info.description or None)
    namespace["__annotations__"] = annotations
    cls = strawberry.input(
        type(name, (), namespace), description=(model.__doc__ or "").strip() or None
    )
    _cache[model] = cls
    return cls


def to_plain(value: Any) -> Any:
    """A strawberry input value back to plain data for pydantic validation."""
    if value is None or value is strawberry.UNSET:
        return None
    if isinstance(value, Enum):  # before the next test: an enum has a strawberry definition
        return value.value
    if hasattr(value, "__strawberry_definition__"):
        return {
            f.python_name: to_plain(getattr(value, f.python_name))
            for f in value.__strawberry_definition__.fields
            if getattr(value, f.python_name) not in (None, strawberry.UNSET)
        }
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
