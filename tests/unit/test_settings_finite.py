"""No setting takes an infinite or not-a-number value (correct22 found `GT_CHECKPOINT_INTERVAL=inf`
turning the signed checkpoints off; timeouts, delays and intervals took `inf` and `nan` too: a
query waiting for ever, a loop sleeping for ever). Every float field of every settings class the
services read is refused by name for each of them, and still takes an ordinary number."""

from __future__ import annotations

import types
import typing

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from audit.ocds.ocid_prefix import OcidPrefixSettings
from audit.ocds.packages import OcdsSettings
from bootstrap.embedded import RunSettings
from enrolment.app import EnrolmentSettings
from eventstore.observability import ObservabilitySettings
from eventstore.settings import CommandSettings, NatsSettings
from gateway.commandbus import CommandRetrySettings
from gateway.process_config import HttpSettings
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

CLASSES: list[type[BaseSettings]] = [
    NatsSettings,
    CommandSettings,
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
