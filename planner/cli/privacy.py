"""`flask privacy retain` (cron): delete the personal free text older than RETENTION_MONTHS."""

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..services import audit
from ..services.privacy import retain
from .series import parse_now

privacy_cli = AppGroup("privacy", help="Personal data: retention.")


@privacy_cli.command("retain")
@click.option("--now", "now_text", help="Act as if it were this ISO 8601 time (default: now).")
def retain_command(now_text: str | None) -> None:
    """Delete notes, free-text answers, feedback comments and needs older than RETENTION_MONTHS (safe from cron)."""
    months = current_app.config["RETENTION_MONTHS"]
    if not months:
        click.echo("Retention is off (RETENTION_MONTHS is not set); nothing deleted.")
        return
    report = retain(db.session, parse_now(now_text), int(months))
    if report.total:
        audit.record(db.session, "privacy.retain", actor=audit.COMMAND_LINE, summary=report.summary)
    db.session.commit()
    click.echo(f"Retention ({months} months), {report.summary}.")
