"""Dependencies point the way the architecture says, checked on every import statement.

(a) a service (registry, enrolment, notifier) imports no other service, the gateway included;
(b) the gateway imports none of registry, enrolment, notifier: wiring them together is the
    composition root's job (`bootstrap`);
(c) contracts_schema, the published contract, imports nothing of ours but itself;
(d) nothing outside tests/ imports the test harness `eventstore.testing` (it may import itself).

Imports inside functions and under TYPE_CHECKING count as well.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ["contracts-schema/src", "eventstore/src", "services/*/src", "bench"]
SERVICES = {"registry", "enrolment", "notifier"}
GATEWAY = "gateway"
OURS = {
    "contracts_schema",
    "eventstore",
    "registry",
    "enrolment",
    "notifier",
    "gateway",
    "audit",
    "bootstrap",
    "bench",
    "tests",
}
HARNESS = "eventstore.testing"


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported} ({self.rule})"


def package_of(path: str) -> str:
    """The top-level package a file belongs to, from its path relative to the repository."""
    parts = Path(path).parts
    if parts[0] == "bench":
        return "bench"
    return parts[parts.index("src") + 1]


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute module an import statement names (`from a import b` names a and a.b)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # `from eventstore import testing` imports the submodule eventstore.testing
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations(source: str, path: str) -> list[Violation]:
    owner = package_of(path)
    in_harness = Path(path).as_posix().startswith("eventstore/src/eventstore/testing/")
    found: dict[tuple[int, str], Violation] = {}  # one report per statement and rule
    for line, module in imported_modules(ast.parse(source, path)):
        top = module.split(".")[0]
        broken = []
        if owner in SERVICES and top != owner and (top in SERVICES or top == GATEWAY):
            broken.append("a service imports another service")
        if owner == GATEWAY and top in SERVICES:
            broken.append("the gateway imports a service")
        if owner == "contracts_schema" and top in OURS and top != owner:
            broken.append("the contract imports our code")
        if (module == HARNESS or module.startswith(HARNESS + ".")) and not in_harness:
            broken.append("production code imports the harness")
        for rule in broken:
            found.setdefault((line, rule), Violation(path, line, module, rule))
    return sorted(found.values(), key=lambda v: (v.line, v.imported))


def source_files() -> list[Path]:
    return sorted(f for pattern in SOURCE_DIRS for d in ROOT.glob(pattern) for f in d.rglob("*.py"))


def test_the_import_graph_follows_the_architecture() -> None:
    files = source_files()
    packages = {package_of(str(f.relative_to(ROOT))) for f in files}
    assert {"contracts_schema", "eventstore", "gateway", "bootstrap", "bench"} <= packages
    assert packages >= SERVICES
    problems = [str(v) for f in files for v in violations(f.read_text(), str(f.relative_to(ROOT)))]
    assert not problems, "imports against the architecture:\n" + "\n".join(problems)


# The checker itself: each rule catches a synthetic violation and lets the allowed case pass.
@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        pytest.param(
            "services/registry/src/registry/app.py",
            "def f():\n    from enrolment.app import assemble\n",
            ["services/registry/src/registry/app.py:2: imports enrolment.app"],
            id="a: a service imports another, inside a function",
        ),
        pytest.param(
            "services/notifier/src/notifier/feed.py",
            "import gateway.schema\n",
            ["services/notifier/src/notifier/feed.py:1: imports gateway.schema"],
            id="a: a service imports the gateway",
        ),
        pytest.param(
            "services/gateway/src/gateway/system.py",
            "from registry.app import make_service\nfrom audit.graphql import AuditQuery\n",
            ["services/gateway/src/gateway/system.py:1: imports registry.app"],
            id="b: the gateway imports a service",
        ),
        pytest.param(
            "contracts-schema/src/contracts_schema/generate.py",
            "from contracts_schema.base import Command\n"
            "try:\n    from gateway.sdl import export_sdl\nexcept ImportError:\n    pass\n",
            ["contracts-schema/src/contracts_schema/generate.py:3: imports gateway.sdl"],
            id="c: the contract imports our code",
        ),
        pytest.param(
            "services/gateway/src/gateway/embedded.py",
            "from eventstore import testing\nfrom eventstore.testing.nats_server import X\n",
            [
                "services/gateway/src/gateway/embedded.py:1: imports eventstore.testing",
                "services/gateway/src/gateway/embedded.py:2: imports eventstore.testing.nats_server",
            ],
            id="d: production code imports the harness",
        ),
        pytest.param(
            "bench/infra.py",
            "import eventstore.testing.postgres\n",
            ["bench/infra.py:1: imports eventstore.testing.postgres"],
            id="d: the benchmarks are not tests",
        ),
        pytest.param(
            "eventstore/src/eventstore/testing/fixtures.py",
            "from eventstore.testing.nats_server import NatsServer\n",
            [],
            id="d: the harness may import itself",
        ),
        pytest.param(
            "services/bootstrap/src/bootstrap/system.py",
            "from registry.app import make_service\nfrom gateway.readside import ReadSide\n",
            [],
            id="the composition root wires everything",
        ),
    ],
)
def test_the_checker_catches_each_rule(path: str, source: str, expected: list[str]) -> None:
    found = [str(v).split(" (")[0] for v in violations(source, path)]
    assert found == expected
