"""correct23: `python -m bench --only <suite>` refuses a suite it does not have, at once.

Before: `--only comands` (a typo) generated the history, started NATS and PostgreSQL, loaded
every event (minutes on the quick run, far longer on the full one), ran no suite, wrote an
empty `quick.partial` results file and exited 0, as if something had been measured.
"""

from __future__ import annotations

import sys

import pytest

import bench.__main__ as bench_cli


class Ran(Exception):
    """The benchmark run was started: the arguments were accepted."""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []

    async def run(config: object, only: object) -> dict[str, object]:
        calls.append(only)
        raise Ran

    monkeypatch.setattr(bench_cli, "run", run)
    return calls


@pytest.mark.parametrize("only", ["comands", "COMMANDS", "ocds_export", ""])
def test_an_unknown_suite_is_refused_before_anything_runs(
    started: list[object],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    only: str,
) -> None:
    monkeypatch.setattr(
        sys, "argv", ["python -m bench", "--quick", "--only", "graphql", "--only", only]
    )
    with pytest.raises(SystemExit) as stopped:
        bench_cli.main()
    assert stopped.value.code == 2
    assert started == []
    err = capsys.readouterr().err
    assert f"argument --only: invalid choice: '{only}'" in err, err
    assert "ocds-export" in err  # the suites it has are listed


def test_the_suites_it_has_are_taken(
    started: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sys, "argv", ["python -m bench", "--only", "graphql", "--only", "ocds-export"]
    )
    with pytest.raises(Ran):
        bench_cli.main()
    assert started == [{"graphql", "ocds-export"}]
