"""The CBS municipality list is parsed whole or not at all, naming bad lines (pure)."""

from __future__ import annotations

import pytest

from contracts_schema.errors import RuleViolation
from enrolment.domain.municipality_list import parse_municipalities
from enrolment.service import shipped_municipalities


def test_the_shipped_list_has_the_342_municipalities_of_2025() -> None:
    rows = parse_municipalities(shipped_municipalities(), "municipalities.csv")
    assert len(rows) == 342
    codes = {r.code: r for r in rows}
    assert codes["GM0363"].name == "Amsterdam"
    assert codes["GM0363"].province == "Noord-Holland"


def test_quoted_names_with_commas_parse() -> None:
    text = 'cbs_code,name,province\nGM1659,"Laarbeek, Gerwen",Noord-Brabant\n'
    [row] = parse_municipalities(text, "t.csv")
    assert (row.line, row.name) == (2, "Laarbeek, Gerwen")


@pytest.mark.parametrize(
    ("bad_row", "fragment"),
    [
        ("GM12,Nowhere,Utrecht", "'GM12' is not a CBS municipality code"),
        ("GM0344,,Utrecht", "municipality GM0344 has no name"),
        ("GM0344,Utrecht,Atlantis", "'Atlantis' is not a Dutch province"),
        ("GM0344,Utrecht", "expected 3 fields"),
        ("GM0363,Amsterdam again,Noord-Holland", "GM0363 already appears on line 2"),
    ],
)
def test_a_malformed_row_is_reported_with_its_line_number(bad_row: str, fragment: str) -> None:
    text = f"cbs_code,name,province\nGM0363,Amsterdam,Noord-Holland\n\nGM0014,Groningen,Groningen\n{bad_row}\n"
    with pytest.raises(RuleViolation) as refused:
        parse_municipalities(text, "list.csv")
    assert refused.value.code == "MALFORMED_MUNICIPALITY_LIST"
    assert f"list.csv line 5: {fragment}" in refused.value.message
    assert "nothing from list.csv was loaded" in refused.value.message


def test_a_wrong_header_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        parse_municipalities("code,naam\nGM0363,Amsterdam\n", "x.csv")
    assert refused.value.code == "MALFORMED_MUNICIPALITY_LIST"
    assert "line 1" in refused.value.message


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        parse_municipalities("cbs_code,name,province\n", "x.csv")
    assert refused.value.code == "MALFORMED_MUNICIPALITY_LIST"
