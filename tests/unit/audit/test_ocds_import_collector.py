"""`audit ocds import` runs with the collector as a command service has it
(`SERVING_THRESHOLDS`: young garbage collected every 50,000 allocations, not 700), and leaves
the thresholds as it found them, also when the run fails (import14)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit import ocds_cli
from audit.cli import app
from audit.ocds.importer import Report, collector_for_import
from eventstore.collector import SERVING_THRESHOLDS

DEFAULT = (700, 10, 10)  # CPython's


@pytest.fixture
def default_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    yield
    gc.set_threshold(*before)


def test_an_import_runs_with_the_services_thresholds_and_restores_them(
    default_thresholds: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []

    async def import_data(*_args: object) -> Report:
        seen.append(gc.get_threshold())
        return Report()

    monkeypatch.setattr(ocds_cli, "import_data", import_data)
    source = tmp_path / "releases.json"
    source.write_text('{"releases": []}')
    result = CliRunner().invoke(app, ["ocds", "import", str(source), "--nats-url", "nats://x:9"])
    assert result.exit_code == ocds_cli.IMPORT_OK, result.output
    assert seen == [SERVING_THRESHOLDS]
    assert gc.get_threshold() == DEFAULT


def test_the_thresholds_are_restored_when_the_run_fails(default_thresholds: None) -> None:
    inside: list[tuple[int, int, int]] = []

    def run() -> None:
        with collector_for_import():
            inside.append(gc.get_threshold())
            raise ConnectionError("no registry")

    with pytest.raises(ConnectionError):
        run()
    assert inside == [SERVING_THRESHOLDS]
    assert gc.get_threshold() == DEFAULT
