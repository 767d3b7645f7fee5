"""`make schema-check` fails when the committed contract files or the gateway's SDL drift."""

from __future__ import annotations

import shutil
from pathlib import Path

from contracts_schema import generate
from gateway import sdl


def test_committed_contract_files_are_up_to_date() -> None:
    assert generate.main(["--check"]) == 0


def test_check_fails_when_a_generated_file_is_stale(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "generated"
    shutil.copytree(generate.DEFAULT_OUT, out)
    envelope = out / "envelope.json"
    envelope.write_text(envelope.read_text().replace("Unique id of this event", "Some id"))
    assert generate.main(["--check", "--out", str(out)]) == 1
    assert "envelope.json" in capsys.readouterr().err  # type: ignore[attr-defined]


def test_check_fails_when_a_file_is_missing_or_extra(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    shutil.copytree(generate.DEFAULT_OUT, out)
    (out / "asyncapi.json").unlink()
    assert generate.main(["--check", "--out", str(out)]) == 1
    assert generate.main(["--out", str(out)]) == 0
    (out / "events").mkdir(exist_ok=True)
    (out / "events" / "Stale.v1.json").write_text("{}")
    assert generate.main(["--check", "--out", str(out)]) == 1


def test_committed_graphql_sdl_is_up_to_date() -> None:
    assert sdl.main(["--check"]) == 0


def test_sdl_check_fails_when_the_file_is_stale_or_missing(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    assert sdl.main(["--check", "--out", str(out)]) == 1
    assert sdl.main(["--out", str(out)]) == 0
    assert sdl.main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text().replace("type Query", "type Queries"))
    assert sdl.main(["--check", "--out", str(out)]) == 1


def test_the_contract_no_longer_generates_the_gateways_sdl() -> None:
    assert "schema.graphql" not in generate.render()
