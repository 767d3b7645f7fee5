"""The collector during a catch-up (`eventstore.collector.relaxed_for_catch_up`): a long one
freezes what survives a middle collection; a short one never freezes; both give the
thresholds back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from eventstore import collector


@pytest.fixture
def unfrozen() -> Iterator[None]:
    # Nothing in a test process may freeze (what is frozen is never collected): a freeze
    # found here is another test's or the product's leak, not a reason to skip.
    assert gc.get_freeze_count() == 0, "something in this test process froze objects"
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    assert gc.get_threshold() == thresholds


@pytest.mark.usefixtures("unfrozen")
def test_a_long_catch_up_freezes_the_survivors_of_collections() -> None:
    kept = [[i] for i in range(1_000)]  # long-lived, tracked
    with collector.relaxed_for_catch_up(collector.FREEZE_FROM):
        assert gc.get_threshold()[0] >= 100_000
        gc.collect(1)
        assert gc.get_freeze_count() >= len(kept)
    assert collector._freeze_survivors not in gc.callbacks
    assert collector._BACKLOG == 0


@pytest.mark.usefixtures("unfrozen")
def test_a_short_catch_up_freezes_nothing() -> None:
    with collector.relaxed_for_catch_up(collector.FREEZE_FROM // 2 - 1):
        with collector.relaxed_for_catch_up(collector.FREEZE_FROM // 2 - 1):  # two runners
            gc.collect(1)
        gc.collect(1)
    assert gc.get_freeze_count() == 0
    assert collector._freeze_survivors not in gc.callbacks
