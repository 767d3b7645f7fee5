"""`unsafe_character` finds exactly the control (category Cc) and bidi/separator characters,
outside those a bound allows, in any text (it is a regular expression now, not a loop asking
`unicodedata` per character: the rule it stands for is checked here over the code points)."""

from __future__ import annotations

import unicodedata

import pytest

from contracts_schema.bounds import _INVISIBLE, unsafe_character

# Every code point up to U+2FFF (all of Cc and the bidi set lie below U+2070), then a sample.
EVERY = [
    chr(i) for i in (*range(0x3000), *range(0x3000, 0x110000, 251)) if not 0xD800 <= i < 0xE000
]


@pytest.mark.parametrize("allowed", ["", "\n\t", "\t\n\r", "]\\-^"])
def test_every_code_point_is_judged_as_its_unicode_category_says(allowed: str) -> None:
    wrong = [
        hex(ord(c))
        for c in EVERY
        if (unsafe_character(f"ok {c} ok", allowed) == c)
        != (c not in allowed and (c in _INVISIBLE or unicodedata.category(c) == "Cc"))
    ]
    assert wrong == []


def test_the_first_unsafe_character_is_named() -> None:
    assert unsafe_character("a\tb\x1bc\u202e", "\t") == "\x1b"
    assert unsafe_character("plain text, é and 漢字") is None
