"""The audit CLI (`audit`, `python -m bootstrap.audit_cli`) over every read model of the system.

Audit cannot import the services whose read models it verifies and rebuilds (they import
it); the composition root hands it the one list, `bootstrap.read_models`, before it runs.
"""

from __future__ import annotations

import typer

from audit import cli, wiring
from bootstrap.parts import projection_runner
from bootstrap.read_models import READ_MODELS


def audit_app() -> typer.Typer:
    wiring.use(READ_MODELS, projection_runner)
    return cli.app


def main() -> None:
    audit_app()()


if __name__ == "__main__":
    main()
