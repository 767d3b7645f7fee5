"""Human output of the CLI (rich)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from audit.checks import VerifyReport
from audit.history import Replay
from contracts_schema.bounds import escape_controls


def safe(text: object) -> str:
    """Stored data for a terminal: control and bidi characters escaped (no ANSI sequence or
    reordering reaches the auditor's terminal), rich markup escaped (a name is never style)."""
    return escape(escape_controls(str(text)))


def print_replay(console: Console, result: Replay) -> None:
    console.print(
        f"[bold]{safe(result.aggregate_type)}/{safe(result.aggregate_id)}[/] as of "
        f"{result.horizon.as_of.isoformat()}, known at {result.horizon.known_at.isoformat()}"
    )
    for entry in result.timeline:
        e = entry.envelope
        console.print(
            f"v{e.aggregate_version} [cyan]{safe(e.event_type)}[/] occurred"
            f" {e.occurred_at.isoformat()} recorded {e.recorded_at.isoformat()}"
            f" by {safe(e.actor)}\n    {safe(entry.summary)}",
            highlight=False,
            soft_wrap=True,
        )
    if not result.timeline:
        console.print("no events visible at this horizon: the aggregate did not exist yet")
    # ASCII JSON: every control and bidi character (and any non-ASCII one) as a \\u escape.
    console.print_json(json.dumps(result.state, sort_keys=True), ensure_ascii=True)


def print_verify(console: Console, report: VerifyReport) -> None:
    for stream in report.streams:
        status = (
            "[green]ok[/]" if not stream.problems else f"[red]{len(stream.problems)} problem(s)[/]"
        )
        console.print(
            f"stream {safe(stream.stream)}: {stream.events} events, "
            f"{stream.aggregates} aggregates, {stream.signed} signed, "
            f"{stream.checkpoints} checkpoints: {status}"
        )
        if stream.legacy:
            sealed = (
                f"sealed by the checkpoint at seq {stream.legacy_sealed_by}"
                if stream.legacy_sealed_by
                else "not sealed by any checkpoint"
            )
            console.print(f"  {stream.legacy} unsigned legacy event(s) first: {sealed}")
    for comparison in report.projections:
        status = "[green]identical[/]" if not comparison.problems else "[red]differs[/]"
        console.print(f"projection {safe(comparison.projection)}: {comparison.rows} rows: {status}")
    for stream in report.streams:
        for gone in stream.acknowledged:
            console.print(f"[yellow]ACKNOWLEDGED[/] {safe(gone)}", highlight=False, soft_wrap=True)
    for problem in report.problems:
        console.print(f"[red]PROBLEM[/] {safe(problem)}", highlight=False, soft_wrap=True)
    console.print(
        "[green]verified[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]"
    )
