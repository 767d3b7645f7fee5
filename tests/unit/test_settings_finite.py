"""No setting takes an infinite or not-a-number value (correct22 found `GT_CHECKPOINT_INTERVAL=inf`
turning the signed checkpoints off; timeouts, delays and intervals took `inf` and `nan` too: a
query waiting for ever, a loop sleeping for ever). Every float field of every settings class the
services read is refused by name for each of them, and still takes an ordinary number."""

from __future__ import annotations

import types
import typing

import annotated_types
import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from audit.ocds.ocid_prefix import OcidPrefixSettings
from audit.ocds.packages import OcdsSettings
from bootstrap.embedded import RunSettings
from enrolment.app import EnrolmentSettings
from eventstore.observability import ObservabilitySettings
from eventstore.settings import CommandSettings, NatsSettings, ProjectionSettings
from gateway.commandbus import CommandRetrySettings
from gateway.process_config import HttpSettings
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

CLASSES: list[type[BaseSettings]] = [
    NatsSettings,
    CommandSettings,
    ProjectionSettings,
    ObservabilitySettings,
    GatewaySettings,
    CommandRetrySettings,
    HttpSettings,
    OcidPrefixSettings,
    OcdsSettings,
    RunSettings,
    NotifierSettings,
    EnrolmentSettings,
]


def _is_float(annotation: object) -> bool:
    if annotation is float:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return float in typing.get_args(annotation)
    return False


FLOAT_FIELDS = [
    (cls, name)
    for cls in CLASSES
    for name, field in cls.model_fields.items()
    if _is_float(field.annotation)
]


def test_there_are_float_settings_to_check() -> None:
    assert len(FLOAT_FIELDS) >= 10  # the walk finds the timeouts and intervals


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
@pytest.mark.parametrize(("cls", "name"), FLOAT_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_an_infinite_or_nan_value_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], name: str, value: str
) -> None:
    prefix = cls.model_config.get("env_prefix", "")
    monkeypatch.setenv(f"{prefix}{name}".upper(), value)
    with pytest.raises(ValidationError, match=name):
        cls()


@pytest.mark.parametrize(("cls", "name"), FLOAT_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_a_finite_value_is_still_taken(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], name: str
) -> None:
    prefix = cls.model_config.get("env_prefix", "")
    default = cls.model_fields[name].default
    value = default if isinstance(default, float | int) and default > 0 else 1.0
    monkeypatch.setenv(f"{prefix}{name}".upper(), str(value))
    assert getattr(cls(), name) == value


def _is_number(annotation: object) -> bool:
    if annotation in (int, float):
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return bool({int, float} & set(typing.get_args(annotation)))
    return False


def _ceiling(cls: type[BaseSettings], name: str) -> float | None:
    for mark in cls.model_fields[name].metadata:
        if isinstance(mark, annotated_types.Le):
            return float(mark.le)  # type: ignore[arg-type]
        if isinstance(mark, annotated_types.Lt):
            return float(mark.lt)  # type: ignore[arg-type]
    return None


NUMBER_FIELDS = [
    (cls, name)
    for cls in CLASSES
    for name, field in cls.model_fields.items()
    if _is_number(field.annotation)
]


def test_there_are_number_settings_to_check() -> None:
    assert len(NUMBER_FIELDS) >= 40  # the walk finds the limits, counts and durations


@pytest.mark.parametrize(("cls", "name"), NUMBER_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_every_number_has_a_ceiling_and_a_value_past_it_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], name: str
) -> None:
    """1e308 seconds was a loop asleep for ever, 10**30 a SQL LIMIT past int64 (correct23)."""
    ceiling = _ceiling(cls, name)
    assert ceiling is not None, f"{cls.__name__}.{name} takes any number: give it an upper bound"
    prefix = cls.model_config.get("env_prefix", "")
    for value in ("1e308", str(10**30)):
        monkeypatch.setenv(f"{prefix}{name}".upper(), value)
        with pytest.raises(ValidationError, match=name):
            cls()
