"""Organisation codes: CBS codes for municipalities, KvK numbers or OINs for other bodies."""

from __future__ import annotations

import re

from contracts_schema.errors import RuleViolation

CBS_CODE = re.compile(r"GM\d{4}")
KVK_CODE = re.compile(r"KVK-\d{8}")
OIN_CODE = re.compile(r"OIN-\d{20}")


def is_municipality_code(code: str) -> bool:
    return CBS_CODE.fullmatch(code) is not None


def check_code(code: str) -> None:
    if not any(p.fullmatch(code) for p in (CBS_CODE, KVK_CODE, OIN_CODE)):
        raise RuleViolation(
            "INVALID_ORGANISATION_CODE",
            f"{code!r} is not an organisation code: municipalities use their CBS code"
            " (GM and four digits, e.g. GM0363), other bodies KVK- and their 8-digit"
            " Chamber of Commerce number or OIN- and their 20-digit OIN",
        )


def predecessors_of(code: str, successors: dict[str, str]) -> frozenset[str]:
    """Every municipality that merged into `code`, directly or through earlier mergers."""
    found: set[str] = set()
    frontier = {code}
    while frontier:
        frontier = {merged for merged, s in successors.items() if s in frontier} - found
        found |= frontier
    found.discard(code)
    return frozenset(found)


def acting_successor(code: str, successors: dict[str, str]) -> str | None:
    """The municipality acting for `code` (None: `code` itself), through a chain of mergers
    (A into B, later B into C: C), `successors` being the mergers in effect on the day."""
    found: str | None = None
    seen = {code}
    while (code := successors.get(code, "")) and code not in seen:
        found = code
        seen.add(code)
    return found
