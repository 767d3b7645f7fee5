"""`contracts_schema.frozen.replace` builds what `dataclasses.replace` builds (the folds use it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

import pytest

from contracts_schema.enrolment.state import enrolment_window
from contracts_schema.frozen import replace


@dataclass(frozen=True)
class Plain:
    a: int
    b: tuple[str, ...] = ()
    c: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


def test_the_same_value_as_dataclasses_replace() -> None:
    before = Plain(1, ("x",), {"k": 1})
    for changes in ({}, {"a": 2}, {"b": ("y", "z"), "c": {}}):
        got, expected = replace(before, **changes), dataclasses.replace(before, **changes)
        assert got == expected
        assert type(got) is Plain
        assert vars(got) == vars(expected)
        assert got is not before
    assert vars(before) == {"a": 1, "b": ("x",), "c": {"k": 1}}  # left as it was
    with pytest.raises(dataclasses.FrozenInstanceError):
        replace(before, a=3).a = 4  # type: ignore[misc]


def test_a_state_of_a_fold() -> None:
    state = enrolment_window.initial("t-1")
    changed = replace(state, closes_on=date(2026, 1, 2))
    assert changed == dataclasses.replace(state, closes_on=date(2026, 1, 2))
    assert vars(changed) == vars(dataclasses.replace(state, closes_on=date(2026, 1, 2)))


def test_unknown_fields_and_post_init_are_dataclasses_own() -> None:
    with pytest.raises(TypeError):
        replace(Plain(1), d=1)
    with pytest.raises(ValueError, match="negative"):
        replace(Checked(1), a=-1)  # __post_init__ still runs
