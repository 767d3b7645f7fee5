"""The developer tools refuse a repeated `--out`/`--docs` as the system's other command lines do
(correct22, correct23's leftover): argparse kept the last one without a word, so the generated
files went where the developer did not look. A usage error (exit 2) naming the option, nothing
written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from contracts_schema import generate
from gateway import sdl

TOOLS: list[tuple[str, Callable[[list[str]], int], str]] = [
    ("generate --out", generate.main, "--out"),
    ("generate --docs", generate.main, "--docs"),
    ("sdl --out", sdl.main, "--out"),
]


@pytest.mark.parametrize(("tool", "main", "option"), TOOLS, ids=[t[0] for t in TOOLS])
def test_a_repeated_option_is_a_usage_error_naming_it(
    tool: str,
    main: Callable[[list[str]], int],
    option: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    with pytest.raises(SystemExit) as exit_:
        main([option, str(first), option, str(second)])
    assert exit_.value.code == 2
    assert f"argument {option}: given more than once" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_given_once_it_is_taken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schema.graphql"
    assert sdl.main(["--out", str(out)]) == 0
    assert out.read_text() == sdl.DEFAULT_OUT.read_text()
