"""`audit ocds import` runs with the collector as a command service has it
(`SERVING_THRESHOLDS`: young garbage collected every 50,000 allocations, not 700), and leaves
the thresholds as it found them, also when the run fails (import14)."""

from __future__ import annotations

import gc
import threading
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


def test_overlapping_imports_restore_the_thresholds(default_thresholds: None) -> None:
    """Two runs in one process (two threads importing), the first leaving first: the
    thresholds afterwards are the ones found before either (review17 #5: the second saved the
    first's serving thresholds as its "before" and left them set for good)."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    inside: list[tuple[int, int, int]] = []

    def first() -> None:
        with collector_for_import():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with collector_for_import():
            second_in.set()
            first_out.wait(5)
            inside.append(gc.get_threshold())  # the first has left: still the serving ones

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert inside == [SERVING_THRESHOLDS]
    assert gc.get_threshold() == DEFAULT
