"""The gateway's GraphQL SDL, committed as services/gateway/generated/schema.graphql.

python -m gateway.sdl [--check] [--out FILE]   (`make schema`, `make schema-check`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contracts_schema.cli_once import Once

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "generated" / "schema.graphql"


def export_sdl() -> str:
    from gateway.schema.build import build_schema  # seconds to import: not for --help

    return build_schema().as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if regenerating would change the file"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, action=Once)
    args = parser.parse_args(argv)
    wanted = export_sdl()
    current = args.out.read_text() if args.out.exists() else None
    if args.check:
        if current != wanted:
            state = "missing" if current is None else "out of date"
            print(f"{state}: {args.out}", file=sys.stderr)
            print("run `make schema` and commit the result", file=sys.stderr)
            return 1
        print("GraphQL SDL up to date")
        return 0
    if current != wanted:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(wanted)
        print(f"wrote {args.out}")
    else:
        print("GraphQL SDL unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
