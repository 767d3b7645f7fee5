"""GT_DEMO: `make run` loads the demo history unless told not to; a value that is not a
boolean stops it with one line naming the variable, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.embedded import RunSettings, run


def test_the_demo_is_loaded_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GT_DEMO", raising=False)
    assert RunSettings().demo is True
    for off in ("false", "0", "no"):
        monkeypatch.setenv("GT_DEMO", off)
        assert RunSettings().demo is False
    monkeypatch.setenv("GT_DEMO", "true")
    assert RunSettings().demo is True


def test_a_bad_value_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GT_DEMO", "maybe")
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "d"))
    with pytest.raises(SystemExit) as stopped:
        run()
    said = str(stopped.value.code)
    assert said.startswith("error: bad setting: GT_DEMO: "), said
    assert "(got 'maybe')" in said
    assert "\n" not in said
    assert not (tmp_path / "d").exists()  # nothing was started
