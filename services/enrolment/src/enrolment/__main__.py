"""`python -m enrolment`: run the enrolment service (configuration from GT_* variables)."""

from __future__ import annotations

import asyncio
import logging

from enrolment.app import build_app


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    app, _broker = build_app()
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
