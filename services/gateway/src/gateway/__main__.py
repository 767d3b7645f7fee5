"""`python -m gateway`: the gateway as its own process (configuration from GT_* variables)."""

from __future__ import annotations

import sys

from gateway.process_config import ConfigError, load_config

EXIT_CONFIG = 2


def main() -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print("gateway: bad configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    # Imported only now: the GraphQL app takes seconds to import, a refusal should not wait.
    from gateway.process import run_process

    return run_process(config)


if __name__ == "__main__":
    raise SystemExit(main())
