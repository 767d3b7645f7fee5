"""Every refusal code raised anywhere is in the catalogue, and the catalogue lists no other."""

from __future__ import annotations

import ast
from pathlib import Path

from contracts_schema import generate
from contracts_schema.refusals import REFUSALS, markdown

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted((ROOT / "services").glob("*/src"))
SOURCES = [ROOT / "eventstore" / "src", ROOT / "contracts-schema" / "src", *SERVICES]


def raised_codes() -> dict[str, str]:
    """code -> where: every RuleViolation("CODE", ...) and CommandRejected(code="CODE")."""
    found: dict[str, str] = {}
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                codes: list[ast.expr] = []
                if name == "RuleViolation" and node.args:
                    codes.append(node.args[0])
                if name == "CommandRejected":
                    codes += [k.value for k in node.keywords if k.arg == "code"]
                for code in codes:
                    if isinstance(code, ast.Attribute) and code.attr == "code":
                        continue  # passes on a code raised elsewhere (violation.code)
                    assert isinstance(code, ast.Constant), (
                        f"{path}:{node.lineno}: a refusal code must be a literal string"
                    )
                    found.setdefault(str(code.value), f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_raised_code_is_in_the_catalogue() -> None:
    raised = raised_codes()
    missing = {code: where for code, where in raised.items() if code not in REFUSALS}
    assert not missing, f"add these to contracts_schema/refusals.py: {missing}"


def test_the_catalogue_lists_only_codes_that_are_raised() -> None:
    stale = sorted(set(REFUSALS) - set(raised_codes()))
    assert not stale, f"no longer raised anywhere: {stale}"


def test_each_refusal_names_its_rule_source_and_an_example() -> None:
    for refusal in REFUSALS.values():
        assert refusal.code.isupper()
        assert refusal.rule
        assert refusal.source
        assert refusal.example


def test_the_docs_table_is_generated_and_drift_checked(tmp_path: Path) -> None:
    assert generate.DEFAULT_DOCS.read_text() == markdown()  # committed and current
    docs = tmp_path / "refusal-codes.md"
    docs.write_text(markdown().replace("ORGANISATION_UNKNOWN", "ORG_UNKNOWN"))
    assert generate.main(["--check", "--docs", str(docs)]) == 1
    assert generate.main(["--docs", str(docs)]) == 0
    assert generate.main(["--check", "--docs", str(docs)]) == 0
    assert "| `VALID_TIME_IN_FUTURE` |" in docs.read_text()
