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


def test_ab_rounds_alternate_after_the_warm_up_and_turn_which_goes_first() -> None:
    from bench.import_timeline import variant_of

    assert [variant_of(r, ab=True) for r in range(9)] == list("ABAABBAAB")
    assert [variant_of(r, ab=False) for r in range(4)] == list("AAAA")
    # As many A rounds as B rounds after the warm-up, over whole pairs.
    rounds = [variant_of(r, ab=True) for r in range(1, 13)]
    assert rounds.count("A") == rounds.count("B") == 6


def test_ab_summary_leaves_the_warm_up_out_and_gives_b_over_a() -> None:
    from bench.import_timeline import ab_summary

    rows = [
        ("A", 100.0, 9.0, 0.9),  # the warm-up: not counted
        ("B", 3000.0, 0.10, 0.1),
        ("A", 2000.0, 0.20, 0.2),
        ("A", 4000.0, 0.40, 0.3),
        ("B", 6000.0, 0.30, 0.3),
        ("B", 4500.0, 0.20, 0.2),
    ]
    lines = ab_summary(rows)
    assert lines[0] == "A: 2 rounds, median 3,000 events/s, registry 0.300 ms/event, idle 25%"
    assert lines[1] == "B: 3 rounds, median 4,500 events/s, registry 0.200 ms/event, idle 20%"
    assert lines[2] == "B/A: events/s 1.500x, registry ms/event 0.667x"


def test_ab_settings_are_the_importers_constants_only() -> None:
    import pytest

    from bench.import_timeline import settings

    assert settings("GROUP=32, PIPELINE=4") == {"GROUP": 32, "PIPELINE": 4}
    with pytest.raises(ValueError, match="TIMEOUT"):
        settings("TIMEOUT=3")


def test_switch_pairs_give_b_over_a_per_pair_and_leave_the_warm_up_out() -> None:
    from bench.import_timeline import pair_ratios, switch_summary

    rows = [
        ("A", (1.0, 9.0)),  # the warm-up: not counted
        ("B", (2.0, 1.0)),
        ("A", (1.0, 2.0)),
        ("A", (4.0, 4.0)),
        ("B", (2.0, 3.0)),
        ("B", (7.0, 7.0)),  # a last round without its pair: left out of the pairs
    ]
    assert pair_ratios(rows) == [[2.0, 0.5], [0.5, 0.75]]
    lines = switch_summary(rows, ("x", "y"))
    assert lines[0] == "A: 2 rounds, medians x 2.5, y 3"
    assert lines[1] == "B: 3 rounds, medians x 2, y 3"
    assert lines[2] == (
        "B/A per pair, median of 2 pairs: x 1.250x (B lower in 1 of 2),"
        " y 0.625x (B lower in 2 of 2)"
    )
