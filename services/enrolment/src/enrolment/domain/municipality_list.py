"""The CBS municipality list (reference data): parsed whole or not at all."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from contracts_schema.enrolment.provinces import PROVINCES
from contracts_schema.errors import RuleViolation
from enrolment.domain.codes import CBS_CODE

HEADER = ["cbs_code", "name", "province"]
MAX_REPORTED = 10


@dataclass(frozen=True)
class MunicipalityRow:
    line: int
    code: str
    name: str
    province: str


def _problem(row: list[str], seen: dict[str, int]) -> str | None:
    if len(row) != len(HEADER):
        return f"expected 3 fields (cbs_code,name,province), found {len(row)}"
    code, name, province = (field.strip() for field in row)
    if not CBS_CODE.fullmatch(code):
        return f"{code!r} is not a CBS municipality code (GM and four digits)"
    if not name:
        return f"municipality {code} has no name"
    if province not in PROVINCES:
        return f"{province!r} is not a Dutch province"
    if code in seen:
        return f"{code} already appears on line {seen[code]}"
    return None


def parse_municipalities(text: str, source: str) -> list[MunicipalityRow]:
    """Every row, or a MALFORMED_MUNICIPALITY_LIST violation naming each bad line."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != HEADER:
        raise RuleViolation(
            "MALFORMED_MUNICIPALITY_LIST",
            f"{source} line 1: the header must be {','.join(HEADER)}; nothing was loaded",
        )
    rows: list[MunicipalityRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for row in reader:
        line, start = reader.line_num, line + 1
        if not any(field.strip() for field in row):
            continue  # blank line
        problem = _problem(row, seen)
        if problem:
            problems.append(f"line {start}: {problem}")
            continue
        code, name, province = (field.strip() for field in row)
        seen[code] = start
        rows.append(MunicipalityRow(start, code, name, province))
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise RuleViolation(
            "MALFORMED_MUNICIPALITY_LIST",
            f"{source} {shown}{more}; nothing from {source} was loaded",
        )
    if not rows:
        raise RuleViolation("MALFORMED_MUNICIPALITY_LIST", f"{source} lists no municipalities")
    return rows
