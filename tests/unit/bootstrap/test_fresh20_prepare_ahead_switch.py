"""The prepare-ahead switch (`GT_PROJECTION_PREPARE_AHEAD`, fresh20) read by every runner and
passed to the projector process the system starts (a child gets only the GT_* settings its
parent gives it: without this the freshness pairs' "off" side still prepared ahead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bootstrap.children import Child
from bootstrap.projector_child import ProjectorProcess
from eventstore.projection import PREPARE_AHEAD_ENV, prepare_ahead_default


@pytest.mark.parametrize(
    ("given", "on"),
    [(None, False), ("1", True), ("0", False), (" Off ", False), ("true", True), ("", False)],
)
def test_the_switch_read(monkeypatch: pytest.MonkeyPatch, given: str | None, on: bool) -> None:
    if given is None:
        monkeypatch.delenv(PREPARE_AHEAD_ENV, raising=False)
    else:
        monkeypatch.setenv(PREPARE_AHEAD_ENV, given)
    assert prepare_ahead_default() is on


@pytest.mark.parametrize("given", ["banana", "2", "-1", "of"])
def test_a_value_neither_on_nor_off_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv(PREPARE_AHEAD_ENV, given)
    with pytest.raises(ValueError, match=f"{PREPARE_AHEAD_ENV}: must be .*{given!r}"):
        prepare_ahead_default()


async def test_the_switch_reaches_the_projector_process(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[dict[str, str]] = []

    async def spawn(command: Sequence[str], settings: dict[str, str]) -> Any:
        spawned.append(settings)
        return object()

    monkeypatch.setattr(ProjectorProcess, "_spawn", staticmethod(spawn))
    monkeypatch.setenv(PREPARE_AHEAD_ENV, "0")
    made = [await ProjectorProcess.start_projector({"GT_DATA_DIR": "/x"})]
    monkeypatch.delenv(PREPARE_AHEAD_ENV)
    made.append(await ProjectorProcess.start_projector({"GT_DATA_DIR": "/x"}))
    for projector in made:  # no process behind them: not the system's to kill
        Child._started.discard(projector)
    assert spawned == [{"GT_DATA_DIR": "/x", PREPARE_AHEAD_ENV: "0"}, {"GT_DATA_DIR": "/x"}]
