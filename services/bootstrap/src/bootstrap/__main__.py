"""`python -m bootstrap` (`make run`): the whole system in one process, see `bootstrap.embedded`."""

from __future__ import annotations

import argparse

from bootstrap.embedded import run

DESCRIPTION = (
    "Start the whole system with demo data (`make run`): NATS, the services, the projector"
    " and the GraphQL gateway (console /console/, GraphiQL /graphql). It takes no arguments;"
    " its settings are GT_* environment variables (README: Environment variables), e.g."
    " GT_HTTP_PORT (default 8000) and GT_DATA_DIR (default ./data). Ctrl-C stops it."
)


def main(argv: list[str] | None = None) -> None:
    # Settings are environment variables; an argument (a mistyped flag, --help) is answered
    # here instead of starting everything with it ignored.
    argparse.ArgumentParser(prog="python -m bootstrap", description=DESCRIPTION).parse_args(argv)
    run()


if __name__ == "__main__":
    main()
