"""`python -m gateway`: the gateway as its own process (configuration from GT_* variables)."""

from __future__ import annotations

from gateway.process import main

if __name__ == "__main__":
    raise SystemExit(main())
