"""One composition root: only `bootstrap` constructs CommandServices and projection runners.

Read from the sources with `ast`: outside the event store (where the classes are defined),
`services/bootstrap/` and `tests/`, no module calls `CommandService`, a subclass of it, or
`ProjectionRunner` (or a subclass). Services expose parts; `bootstrap.parts` makes them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {"CommandService", "ProjectionRunner"}
ALLOWED = ("eventstore/src/eventstore/", "services/bootstrap/", "tests/")


def python_files() -> list[Path]:
    skip = {".venv", ".git", "node_modules"}
    return sorted(p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def constructed_classes(trees: dict[str, ast.AST]) -> set[str]:
    """The two classes and every subclass of them declared anywhere (by name, transitively)."""
    bases: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {n for b in node.bases if (n := _name(b))}
                bases.setdefault(node.name, set()).update(names)
    found = set(ROOTS)
    while True:
        more = {c for c, bs in bases.items() if bs & found} - found
        if not more:
            return found
        found |= more


def constructions(tree: ast.AST, classes: set[str]) -> list[tuple[int, str]]:
    return [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (name := _name(node.func)) in classes
    ]


def violations(files: dict[str, str]) -> list[str]:
    trees = {path: ast.parse(source, path) for path, source in files.items()}
    classes = constructed_classes(trees)
    return [
        f"{path}:{line}: constructs {name}"
        for path, tree in trees.items()
        if not path.startswith(ALLOWED)
        for line, name in constructions(tree, classes)
    ]


def test_only_bootstrap_constructs_command_services_and_runners() -> None:
    files = {p.relative_to(ROOT).as_posix(): p.read_text() for p in python_files()}
    assert "services/bootstrap/src/bootstrap/parts.py" in files
    found = violations(files)
    assert not found, "construct these through bootstrap.parts:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"services/registry/src/registry/app.py": "s = CommandService(R, st, c, [], {})\n"},
            ["services/registry/src/registry/app.py:1: constructs CommandService"],
            id="a service constructs a CommandService",
        ),
        pytest.param(
            {
                "services/enrolment/src/enrolment/service.py": "class E(CommandService):\n  pass\n",
                "services/enrolment/src/enrolment/app.py": "def f():\n  return E(x)\n",
            },
            ["services/enrolment/src/enrolment/app.py:2: constructs E"],
            id="a service constructs a subclass",
        ),
        pytest.param(
            {"bench/direct.py": "import eventstore.projection as p\nr = p.ProjectionRunner(n)\n"},
            ["bench/direct.py:2: constructs ProjectionRunner"],
            id="the bench constructs a runner",
        ),
        pytest.param(
            {
                "services/bootstrap/src/bootstrap/parts.py": "r = ProjectionRunner(n, e, p)\n",
                "eventstore/src/eventstore/commands.py": "x = CommandService(a)\n",
                "tests/unit/test_x.py": "y = ProjectionRunner(a)\n",
            },
            [],
            id="bootstrap, the event store and tests may",
        ),
    ],
)
def test_the_checker(files: dict[str, str], expected: list[str]) -> None:
    assert violations(files) == expected
