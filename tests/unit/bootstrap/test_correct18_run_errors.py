"""correct18: `make run`'s `run` blames GT_PORT only for GT_PORT. Before, its
`except ValueError` wrapped the whole start: any ValueError raised while starting (a bug, a
bad value met deep in a part) ended as "error: bad setting: GT_PORT: ..." though GT_PORT
was not even set."""

from __future__ import annotations

from pathlib import Path

import pytest

import bootstrap.embedded as embedded


@pytest.fixture
def no_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GT_PORT", "GT_HTTP_PORT", "GT_HTTP_HOST", "GT_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "data"))


async def _fails_while_starting(*_args: object, **_kwargs: object) -> None:
    raise ValueError("a value met while starting")


def test_a_value_error_while_starting_is_not_blamed_on_gt_port(
    no_port: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "main", _fails_while_starting)
    with pytest.raises(ValueError, match="a value met while starting"):
        embedded.run()


def test_a_bad_gt_port_is_still_named(no_port: None, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    async def main(_data: Path, port: int, *_args: object, **_kwargs: object) -> None:
        started.append(port)

    monkeypatch.setattr(embedded, "main", main)
    monkeypatch.setenv("GT_PORT", "eighty")
    with pytest.raises(SystemExit) as stopped:
        embedded.run()
    assert str(stopped.value.code).startswith("error: bad setting: GT_PORT: invalid literal")
    assert started == []
    monkeypatch.setenv("GT_PORT", "8123")
    embedded.run()
    assert started == [8123]
