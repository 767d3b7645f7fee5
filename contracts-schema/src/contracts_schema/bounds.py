"""Input bounds, in one place: the annotated types every command model uses.

Commands are what clients send, so the bounds apply to them; stored events keep their own
(looser) types so that every event ever recorded still validates. Each bound names itself
in its error message (pydantic's, or ours below), and pydantic names the field.

- Names and short texts: trimmed, not empty, at most 300 characters, no control characters
  (C0/C1, so NUL and the ESC that starts an ANSI sequence), no bidirectional overrides or
  isolates (U+202A-U+202E, U+2066-U+2069, ...) and no line/paragraph separators.
- Free text (summaries, descriptions): the same, up to 4000 characters, line breaks and tabs
  allowed.
- Amounts in euro: decimals, 0 <= x <= 10^12, at most two decimal places; no NaN/Infinity.
- Dates: 1990-01-01 .. 2100-12-31; instants likewise.
- Lots per tender: at most 200.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

NAME_MAX = 300
TEXT_MAX = 4000
AMOUNT_MAX_EUR = Decimal(10) ** 12
FIRST_DAY = date(1990, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_LOTS = 200

# Format characters that reorder or hide text (Trojan Source, CVE-2021-42574), plus the
# Unicode line and paragraph separators. Category Cc (C0, DEL, C1) is refused separately.
# Bidi controls, line/paragraph separators, and the characters that show as nothing (zero
# width space, word joiner, byte order mark, soft hyphen): a name holding one reads exactly
# like another name. Not U+200C/U+200D (joiners that Persian and Indic scripts need).
_INVISIBLE = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
    "\u200b\u2060\ufeff\u00ad"
)


# Category Cc is exactly U+0000-U+001F and U+007F-U+009F: one regular expression finds the
# first unsafe character (a Python loop asking `unicodedata` per character cost every command
# a few microseconds per character of its texts).
_CONTROLS = "\x00-\x1f\x7f-\x9f"


@functools.cache
def _unsafe(allowed: str) -> re.Pattern[str]:
    """The characters `unsafe_character` looks for, but those in `allowed`."""
    ranges = f"{_CONTROLS}{''.join(sorted(_INVISIBLE))}"
    if not allowed:
        return re.compile(f"[{ranges}]")
    return re.compile(f"(?![{re.escape(allowed)}])[{ranges}]")


def unsafe_character(text: str, allowed: str = "") -> str | None:
    """The first control, bidi or invisible (zero-width, soft hyphen, BOM) character in
    `text` (outside `allowed`), or None."""
    found = _unsafe(allowed).search(text)
    return None if found is None else found.group()


def escape_controls(text: str) -> str:
    """`text` with every control or bidi character written as an escape (\\x1b, \\u202e),
    safe to show on a terminal whatever was stored before the bounds existed."""
    if unsafe_character(text) is None:
        return text
    return "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if c in _INVISIBLE or unicodedata.category(c) == "Cc"
        else c
        for c in text
    )


def _printable(allowed: str) -> AfterValidator:
    def check(value: str) -> str:
        char = unsafe_character(value, allowed)
        if char is not None:
            raise ValueError(
                f"must not contain control, invisible or bidirectional formatting characters"
                f" (found U+{ord(char):04X})"
            )
        return value

    return AfterValidator(check)


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    _printable(""),
]
"""A name, title or reference: trimmed, 1..300 characters, one printable line."""

FreeText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX),
    _printable("\n\t"),
]
"""A summary or description: trimmed, 1..4000 characters, line breaks allowed."""


def _exact(value: object) -> object:
    # A JSON or GraphQL number arrives as a float: take its shortest decimal form (0.1, not
    # 0.1000000000000000055...), so cents stay cents.
    return Decimal(repr(value)) if isinstance(value, float) else value


AmountEur = Annotated[
    Decimal,
    BeforeValidator(_exact),
    Field(ge=0, le=AMOUNT_MAX_EUR, decimal_places=2, allow_inf_nan=False),
]
"""An amount in euro: 0 <= x <= 10^12, in cents at most."""

Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A calendar day between 1990-01-01 and 2100-12-31."""


def _instant_in_range(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:  # aware by Python's rule
        raise ValueError("timestamps must carry a timezone (use Z or +00:00)")
    try:
        utc = value.astimezone(UTC).date()
    except OverflowError:  # its offset takes it before year 1 or past 9999 in UTC
        utc = None
    if utc is None or not FIRST_DAY <= utc <= LAST_DAY:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


Instant = Annotated[datetime, AfterValidator(_instant_in_range)]
"""An aware instant between 1990-01-01 and 2100-12-31."""
