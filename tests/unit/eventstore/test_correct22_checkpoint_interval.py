"""correct22: GT_CHECKPOINT_INTERVAL is bounded above: `inf` turned the checkpoints off.

The signed checkpoints are the evidence that the stream was not cut (docs/security.md: a cut
after the last one goes unseen for up to one interval). `GT_CHECKPOINT_INTERVAL=inf` (or 1e308)
was taken: the service started and never wrote a checkpoint, and `audit verify` had nothing to
hold a truncation against, without a word. At most a day now, named before anything starts.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bootstrap.__main__ import check_settings
from eventstore.settings import NatsSettings


@pytest.mark.parametrize("value", ["inf", "1e308", "86401"])
def test_an_interval_beyond_a_day_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GT_CHECKPOINT_INTERVAL", value)
    with pytest.raises(ValidationError, match="checkpoint_interval"):
        NatsSettings()  # before: taken
    with pytest.raises(SystemExit, match="GT_CHECKPOINT_INTERVAL"):
        check_settings()  # `make run` says so before it starts anything


@pytest.mark.parametrize("value", ["0.2", "60", "86400"])
def test_an_interval_up_to_a_day_is_taken(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GT_CHECKPOINT_INTERVAL", value)
    assert NatsSettings().checkpoint_interval == float(value)
