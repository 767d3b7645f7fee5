"""Domain rule violations: a stable machine code and a sentence that names the rule."""

from __future__ import annotations


class RuleViolation(Exception):
    """Raised by a pure `decide` when a command breaks a rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class FoldError(ValueError):
    """Raised by a published `evolve` when an event cannot apply to the state it is given."""


SHOWN_MAX = 80  # characters of a refused value repeated back: enough to recognise it


def shown(value: object) -> str:
    """A refused value as the client sent it, for the refusal's message, cut short: a
    100,000-character value repeated whole made the refusal as large as the attack (and its
    log line too). Short values are shown whole, as `repr` shows them."""
    text = str(value)
    if len(text) <= SHOWN_MAX:
        return repr(text)
    return f"{text[:SHOWN_MAX]!r}... ({len(text):,} characters)"
