"""The twelve provinces as the CBS municipality list spells them: a closed set every reader
may check against (the enrolment service validates its municipality loads by it; the
gateway refuses a misspelt province filter by it)."""

from __future__ import annotations

PROVINCES = frozenset(
    {
        "Drenthe",
        "Flevoland",
        "Fryslân",
        "Gelderland",
        "Groningen",
        "Limburg",
        "Noord-Brabant",
        "Noord-Holland",
        "Overijssel",
        "Utrecht",
        "Zeeland",
        "Zuid-Holland",
    }
)
