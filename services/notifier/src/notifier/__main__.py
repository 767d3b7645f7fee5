"""`python -m notifier`: run the service, run the schedule for a day, print a webhook secret."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import typer

# The service's modules are imported inside the commands: a mistyped argument is answered at
# once, without loading SQLAlchemy, NATS and FastStream first.

cli = typer.Typer(
    help="The notifier: expiry warnings and integration events.", add_completion=False
)


@cli.command()
def run() -> None:
    """Serve commands, keep the feed and the schedule going (until interrupted)."""
    from eventstore.clock import SystemClock
    from notifier.app import build_app
    from notifier.settings import NotifierSettings

    app, _broker = build_app(NotifierSettings(), SystemClock())
    asyncio.run(app.run())


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date (expected YYYY-MM-DD)", param_hint="'--now'"
        ) from exc


@cli.command()
def tick(
    now: str = typer.Option(..., "--now", help="Run the schedule for this day (YYYY-MM-DD)."),
) -> None:
    """Raise every expiry warning due on a day, once (backfills, tests); prints JSON."""
    day = _parse_day(now)
    from eventstore.clock import FixedClock
    from eventstore.service_app import connect_nats
    from notifier.db import notifier_engine
    from notifier.service import Notifier
    from notifier.settings import NotifierSettings

    settings = NotifierSettings()

    async def main() -> dict[str, object]:
        nc = await connect_nats(settings, "notifier-tick")
        clock = FixedClock(datetime.combine(day, datetime.min.time(), UTC))
        notifier = Notifier(nc, notifier_engine(settings.database_url), clock, settings)
        try:
            await notifier.start(commands=False, publish=False, webhooks=False)
            result = await notifier.tick(day)
        finally:
            await notifier.stop()
            await nc.close()
        return {
            "day": day.isoformat(),
            "raised": [w.key for w in result.raised],
            "already_raised": [w.key for w in result.already_raised],
            "failed": [f"{w.key}: {why}" for w, why in result.failed],
        }

    summary = asyncio.run(main())
    typer.echo(json.dumps(summary, indent=2))
    if summary["failed"]:
        raise typer.Exit(1)


@cli.command("webhook-secret")
def webhook_secret(subscription_id: str) -> None:
    """Print the signing secret of a subscription (hand it to the organisation)."""
    from notifier.settings import NotifierSettings
    from notifier.signing import subscription_secret

    typer.echo(subscription_secret(NotifierSettings().webhook_master_key, subscription_id))


if __name__ == "__main__":
    cli()
