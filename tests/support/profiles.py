"""How many generated histories a system-level property test runs.

The normal suite: a few fixed examples (derandomized: the same histories every run), not
shrunk (each try costs the system about half a second, and the failure report names what
went wrong anyway). HISTORIES_PROFILE=long: many random examples (HISTORIES_EXAMPLES,
default 100), shrunk to a small failing history (that can take minutes).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

LONG = os.environ.get("HISTORIES_PROFILE", "default") == "long"
SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


def history_settings(default_examples: int) -> settings:
    if LONG:
        examples = int(os.environ.get("HISTORIES_EXAMPLES", "100"))
        return settings(max_examples=examples, deadline=None, suppress_health_check=SLOW_OK)
    return settings(
        max_examples=default_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=SLOW_OK,
    )


TIMEOUT = 3600 if LONG else 120  # per test, seconds
