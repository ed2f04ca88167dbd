"""`flask offers expire`: withdraw automatic backfill offers nobody answered in time and offer open seats anew."""

import click
from flask import current_app
from flask.cli import AppGroup

from ..config import sends_at_once
from ..extensions import db
from ..mailer import deliver_event_mail, mail_settings
from ..models import Invitation
from ..services.offers import run_offers
from ..text import plural
from .series import parse_now

offers_cli = AppGroup("offers", help="Automatic backfill: seats offered for a while.")


@offers_cli.command("expire")
@click.option("--now", "now_text", help="Act as if it were this ISO 8601 time (default: now).")
def expire_command(now_text: str | None) -> None:
    """Withdraw expired offers and offer every open seat of events that backfill themselves (safe from cron)."""
    now = parse_now(now_text)
    config = current_app.config
    report = run_offers(db.session, mail_settings(), now)
    if sends_at_once(config):
        touched = {db.session.get(Invitation, invitation_id).event_id for invitation_id in report.expired + report.offered}
        for event_id in sorted(touched):
            deliver_event_mail(event_id)
    click.echo(f"{plural(len(report.expired), 'offer')} expired, {plural(len(report.offered), 'offer')} made.")
