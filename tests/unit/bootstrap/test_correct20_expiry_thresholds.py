"""correct20: a bad GT_EXPIRY_THRESHOLDS_MONTHS is named in one line before anything starts.

Before: `[-3]`, `[0]` or `[6, 6]` passed the settings' check (a tuple of ints); `make run`
started NATS and every part, loaded the demo, and then the notifier child ended in a traceback
("ValueError: expiry thresholds must be positive numbers of months"), stopping the system.
A threshold of 100000 months was taken: every expiry warning's due day lay before year 1.
The notifier's own start (`python -m bootstrap.serve notifier run`) reads the same settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import bootstrap.__main__ as make_run
from notifier.settings import NotifierSettings

NAME = "GT_EXPIRY_THRESHOLDS_MONTHS"


class Started(Exception):
    """`run` was reached: the settings were accepted."""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "data"))

    def run() -> None:
        raise Started

    monkeypatch.setattr(make_run, "run", run)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("[-3]", "between 1 and 1200"),
        ("[0]", "between 1 and 1200"),
        ("[100000]", "between 1 and 1200"),
        ("[6, 6]", "distinct"),
    ],
)
def test_a_bad_threshold_is_one_line_naming_it_before_anything_starts(
    started: None, monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    monkeypatch.setenv(NAME, value)
    with pytest.raises(SystemExit) as stopped:
        make_run.main([])
    line = str(stopped.value.code)
    assert line.startswith(f"error: bad setting: {NAME}: "), line
    assert said in line, line
    assert "\n" not in line


@pytest.mark.parametrize("value", ["[24, 18, 12, 6, 3]", "[1]", "[1200, 3]", "[]"])
def test_good_thresholds_start(started: None, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(NAME, value)
    with pytest.raises(Started):
        make_run.main([])


def test_the_notifier_settings_refuse_them_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "[-3]")
    with pytest.raises(ValidationError, match="between 1 and 1200"):
        NotifierSettings()
