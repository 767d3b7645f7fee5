"""An opt-in pytest plugin: run every property test with many more random examples.

    HUNT_MULTIPLIER=30 .venv/bin/python -m pytest -p tests.support.hunt \
        --hypothesis-show-statistics tests/unit/eventstore/test_timeline.py

Each collected hypothesis test keeps its own settings (strategies, health checks, phases) with
max_examples multiplied by HUNT_MULTIPLIER (default 20), no example database (every run draws
fresh examples, as a CI run on a clean checkout does), not derandomized and no deadline. Not
loaded by the normal suite: it is for hunting the failures a CI run can draw, not for CI.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

MULTIPLIER = int(os.environ.get("HUNT_MULTIPLIER", "20"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    seen: set[int] = set()
    for item in items:
        obj = getattr(item, "obj", None)
        target = getattr(obj, "__func__", obj)
        if target is None or not getattr(target, "is_hypothesis_test", False):
            continue
        if id(target) in seen:  # a parametrized test: one function, many items
            continue
        seen.add(id(target))
        current = target._hypothesis_internal_use_settings
        target._hypothesis_internal_use_settings = settings(
            current,
            max_examples=current.max_examples * MULTIPLIER,
            database=None,
            derandomize=False,
            deadline=None,
        )
