"""The projector process serves its read models with short GIL turns (`SWITCH_INTERVAL`): its one
event loop, on which every read-your-writes waits, gets the GIL back from a busy runner thread
within a millisecond rather than CPython's 5 ms."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

import pytest

from bootstrap import projector
from gateway.process_config import load_projector_config


def test_the_projector_process_runs_its_loop_with_short_gil_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[float] = []

    def serving(main: Coroutine[Any, Any, None]) -> None:
        main.close()  # not started: only the interpreter's setting as the loop would see it
        seen.append(sys.getswitchinterval())

    monkeypatch.setenv("GT_DATABASE_URL", "sqlite://")
    monkeypatch.setattr(asyncio, "run", serving)
    before = sys.getswitchinterval()
    try:
        assert projector.run_process(load_projector_config()) == 0
    finally:
        sys.setswitchinterval(before)
    assert seen == [pytest.approx(projector.SWITCH_INTERVAL)]
    assert before > projector.SWITCH_INTERVAL  # CPython's 5 ms default
