"""An organisation's identifier is taken as a registry code only when the whole of it is one:
`GM0363\n` was taken (Python's `$` matches before a final newline) and the release was then
refused by the event's own check instead of being recorded as an unidentified party."""

from __future__ import annotations

import pytest

from audit.ocds.importer_ids import Unmappable, organisation_code


@pytest.mark.parametrize("given", ["GM0363\n", "NL-KVK-12345678\n", "GB-COH-01234567\n"])
def test_a_code_with_a_trailing_newline_is_not_a_code(given: str) -> None:
    with pytest.raises(Unmappable, match="no identifier the registry records"):
        organisation_code({"id": given, "name": "Gemeente"}, {}, "buyer")


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("GM0363", "GM0363"),
        ("NL-KVK-12345678", "KVK-12345678"),
        ("GB-COH-01234567", "GB-COH-01234567"),
    ],
)
def test_a_whole_code_is_still_taken(given: str, code: str) -> None:
    assert organisation_code({"id": given, "name": "Gemeente"}, {}, "buyer") == code
