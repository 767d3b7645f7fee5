"""`eventstore.collector`: what a long-running process keeps lives out of the collector's walks.

Each case runs in a fresh interpreter: freezing is for one long-lived process, never for the
test process (what is frozen is never collected).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_start_up_objects_are_frozen_and_garbage_is_collected_first() -> None:
    out = _run(
        """
        import gc, weakref
        from eventstore import collector

        class Node:
            pass

        kept = [Node() for _ in range(1000)]
        cycle = Node(); cycle.me = cycle; dead = weakref.ref(cycle); del cycle
        before = gc.get_freeze_count()
        collector.keep_full_collections_short()
        print(dead() is None, gc.get_freeze_count() >= before + 1000, collector.installed())
        """
    )
    assert out == "True True True"


def test_survivors_of_a_slow_full_collection_are_frozen() -> None:
    out = _run(
        """
        import gc
        from eventstore import collector

        collector.keep_full_collections_short()
        collector.LONG = -1.0  # every full collection counts as slow here
        frozen = gc.get_freeze_count()
        later = [[i] for i in range(5000)]  # long-lived, made after start-up
        gc.collect(1)
        unchanged = gc.get_freeze_count() == frozen  # a young collection freezes nothing
        gc.collect()
        grew = gc.get_freeze_count() >= frozen + 5000
        # Within SPACING of that freeze, another slow full collection freezes nothing more.
        frozen = gc.get_freeze_count()
        more = [[i] for i in range(5000)]
        gc.collect()
        spaced = gc.get_freeze_count() == frozen
        print(unchanged, grew, spaced, collector.survivor_freezes())
        collector.uninstall()
        collector.SPACING = 0.0
        gc.collect()
        print(gc.get_freeze_count() == frozen, collector.installed())
        """
    )
    assert out == "True True True 1\nTrue False"


def test_the_end_of_a_catch_up_freezes_only_in_a_process_that_asked() -> None:
    out = _run(
        """
        import gc
        from eventstore import collector

        built = [[i] for i in range(5000)]  # what a catch-up leaves in memory
        collector.after_catch_up()
        untouched = gc.get_freeze_count() == 0
        collector.keep_full_collections_short()
        frozen = gc.get_freeze_count()
        more = [[i] for i in range(5000)]
        collector.after_catch_up()
        print(untouched, gc.get_freeze_count() >= frozen + 5000)
        """
    )
    assert out == "True True"
