"""The release checks whose paths are now made only for what they report (helper import37):
`invisible_texts` searches all of a release's names at once and names each bad one;
`days_out_of_range` names each day outside the registry's range. Each finding is exactly
where one was planted, in the release's order, with the same reason as before."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.ocds.importer_unrecorded import days_out_of_range, invisible_texts

BAD = ["\u200b", "\u202e", "\x07", "\ufeff", "\u00ad", "\u2028"]  # a few unsafe characters
FIELDS = ["dateSigned", "period.startDate", "period.endDate", "period.maxExtentDate"]
DAYS = ["1989-12-31", "2101-01-01", "0001-01-01", "1990-01-01", "2100-12-31", "9999-12-31",
        "2020-05-05T00:00:00Z", "junk"]  # fmt: skip
FINE = ["", "Gemeente Utrecht", "tab\there", "two\nlines", "r\u00e9sum\u00e9", "\u200d"]


def _release(names: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A release holding `names` in every named place, in `_named`'s order, and the paths of
    those places."""
    paths = ["tender.title", "tender.lots[0].title", "tender.lots[1].title", "buyer.name",
             "tender.procuringEntity.name", "parties[0].name", "parties[1].name",
             "contracts[0].title", "awards[0].suppliers[0].name",
             "awards[1].suppliers[0].name", "awards[1].suppliers[1].name"]  # fmt: skip
    n = names
    release = {
        "tender": {"title": n[0], "lots": [{"title": n[1]}, {"title": n[2]}],
                   "procuringEntity": {"name": n[4]}},
        "buyer": {"name": n[3]},
        "parties": [{"name": n[5]}, {"name": n[6]}],
        "contracts": [{"title": n[7]}],
        "awards": [{"suppliers": [{"name": n[8]}]},
                   {"suppliers": [{"name": n[9]}, {"name": n[10]}]}],
    }  # fmt: skip
    return release, paths


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(FINE), st.none() | st.sampled_from(BAD)),
        min_size=11,
        max_size=11,
    )
)
def test_each_name_with_an_unsafe_character_is_named_at_its_path(
    planted: list[tuple[str, str | None]],
) -> None:
    names = [text if bad is None else f"{text}{bad}x" for text, bad in planted]
    release, paths = _release(names)
    found = invisible_texts(release)
    assert [f.path for f in found] == [p for p, (_, bad) in zip(paths, planted, strict=True) if bad]
    for f, bad in zip(found, [b for _, b in planted if b], strict=True):
        assert f.reason.startswith(f"it holds U+{ord(bad):04X} ")
        assert f.reason.endswith(
            "a character that shows as nothing or turns the text around: the registry"
            " records no name or title with one (it would read like another)"
        )


def test_names_that_are_not_text_are_passed_over() -> None:
    release = {"tender": {"title": 7, "lots": [{"title": None}]}, "parties": [{"name": ["x"]}],
               "buyer": {"name": "fine\u200b"}}  # fmt: skip
    assert [f.path for f in invisible_texts(release)] == ["buyer.name"]
    assert invisible_texts({"tender": {"title": 7}, "parties": "not a list"}) == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(FIELDS),
            st.sampled_from(DAYS),
        ),
        max_size=6,
    ),
    st.sampled_from(["1980-02-02T00:00:00Z", "2020-02-02T00:00:00Z", None]),
)
def test_each_day_out_of_range_is_named_at_its_path(
    days: list[tuple[str, str]], award_day: str | None
) -> None:
    contracts: list[dict[str, Any]] = []
    expected = []
    if award_day is not None and award_day.startswith("1980"):
        expected.append("awards[0].date")
    for i, (field, value) in enumerate(days):
        contract: dict[str, Any] = {}
        if "." in field:
            contract["period"] = {field.split(".")[1]: value}
        else:
            contract[field] = value
        contracts.append(contract)
        out = value[:4] in ("1989", "2101", "0001")
        sentinel = value.startswith("9999") and field.endswith(("endDate", "maxExtentDate"))
        if out or (value.startswith("9999") and not sentinel):
            expected.append(f"contracts[{i}].{field}")
    release = {"awards": [{"date": award_day}], "contracts": contracts}
    found = days_out_of_range(release)
    assert [f.path for f in found] == expected
    for f in found:
        assert "is not between 1990-01-01 and 2100-12-31, the days the registry records" in (
            f.reason
        )


_JUNK = st.none() | st.integers() | st.text(max_size=3) | st.just([]) | st.just({})
_NAMED = st.fixed_dictionaries({}, optional={"name": _JUNK, "title": _JUNK})
_ITEMS = st.lists(_NAMED | _JUNK, max_size=3) | _JUNK


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "tender": st.fixed_dictionaries(
                {}, optional={"title": _JUNK, "lots": _ITEMS, "procuringEntity": _NAMED | _JUNK}
            )
            | _JUNK,
            "buyer": _NAMED | _JUNK,
            "parties": _ITEMS,
            "contracts": _ITEMS,
            "awards": st.lists(
                st.fixed_dictionaries({}, optional={"suppliers": st.lists(_NAMED | _JUNK)}) | _JUNK,
                max_size=3,
            )
            | _JUNK,
        },
    )
)
def test_the_texts_searched_at_once_are_the_named_ones(release: dict[str, Any]) -> None:
    """`_texts` (the values searched in one go) lists exactly `_named`'s values, in order,
    whatever the release's shape: a name it left out would never be reported."""
    from audit.ocds.importer_unrecorded import _named, _texts

    assert _texts(release) == [value for _, value in _named(release)]
