"""`python -m registry`: run the registry service against the NATS URL in GT_NATS_URL."""

from __future__ import annotations

import asyncio

from registry.app import build_app


def main() -> None:
    app, _broker = build_app()
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
