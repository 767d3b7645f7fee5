"""Human output of the CLI (rich)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from audit.checks import VerifyReport
from audit.history import Replay


def print_replay(console: Console, result: Replay) -> None:
    console.print(
        f"[bold]{result.aggregate_type}/{result.aggregate_id}[/] as of "
        f"{result.horizon.as_of.isoformat()}, known at {result.horizon.known_at.isoformat()}"
    )
    table = Table("v", "occurred (valid)", "recorded (tx)", "actor", "event", "what changed")
    for entry in result.timeline:
        e = entry.envelope
        table.add_row(
            str(e.aggregate_version),
            e.occurred_at.isoformat(),
            e.recorded_at.isoformat(),
            e.actor,
            e.event_type,
            entry.summary,
        )
    console.print(table)
    if not result.timeline:
        console.print("no events visible at this horizon: the aggregate did not exist yet")
    console.print_json(json.dumps(result.state, sort_keys=True))


def print_verify(console: Console, report: VerifyReport) -> None:
    for stream in report.streams:
        status = (
            "[green]ok[/]" if not stream.problems else f"[red]{len(stream.problems)} problem(s)[/]"
        )
        console.print(
            f"stream {stream.stream}: {stream.events} events, "
            f"{stream.aggregates} aggregates: {status}"
        )
    for comparison in report.projections:
        status = "[green]identical[/]" if not comparison.problems else "[red]differs[/]"
        console.print(f"projection {comparison.projection}: {comparison.rows} rows: {status}")
    for problem in report.problems:
        console.print(f"[red]PROBLEM[/] {problem}", highlight=False, soft_wrap=True)
    console.print(
        "[green]verified[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]"
    )
