"""`python -m bootstrap` (`make run`): the whole system in one process, see `bootstrap.embedded`."""

from __future__ import annotations

from bootstrap.embedded import run

if __name__ == "__main__":
    run()
