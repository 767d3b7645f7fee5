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
