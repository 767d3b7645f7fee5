"""`bench.import_timeline`'s idle map: the registry's state samples split by the messages the
importer had at it then."""

from __future__ import annotations

from bench.import_timeline import idle_by_groups


def test_samples_are_split_by_the_messages_at_the_registry() -> None:
    # Two messages: one at the registry over [1, 3), the other over [2, 4).
    sent = [(1.0, 3.0, 100), (2.0, 4.0, 200)]
    samples = [
        (0.5, False),  # nothing sent yet: idle
        (1.5, True),  # one message
        (2.5, True),  # two
        (2.7, False),  # two, idle (waiting on its appends)
        (3.5, True),  # one
        (4.5, False),  # answered both: idle
        (9.0, True),  # after the round's end: not counted
    ]
    split = idle_by_groups(samples, sent, wall=5.0)
    assert split == {0: (2 / 6, 2 / 6), 1: (2 / 6, 0.0), 2: (2 / 6, 1 / 6)}


def test_an_answer_ends_a_message_at_its_time() -> None:
    split = idle_by_groups([(1.0, False), (2.0, False)], [(1.0, 2.0, 10)], wall=2.0)
    assert split == {1: (0.5, 0.5), 0: (0.5, 0.5)}
