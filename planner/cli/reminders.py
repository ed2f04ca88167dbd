"""`flask reminders send` (cron, every few minutes): reminders to invitees, answer notices, alerts and daily digests.

Work goes in batches of --batch, each its own transaction: a run killed halfway leaves what it
committed (each Reminder or Digest row with its mail) and nothing of the rest, which the next run
does. The queued mail is delivered after each commit (when config.sends_at_once).
"""

from collections.abc import Callable, Sequence

import click
from flask import current_app
from flask.cli import AppGroup

from ..config import sends_at_once
from ..extensions import db
from ..mailer import mail_settings
from ..services import digest, reminders
from ..services.locking import once_more_when_stale
from .outbox import deliver_due
from .series import parse_now

reminders_cli = AppGroup("reminders", help="Reminders to invitees and news to organisers.")


def in_batches(jobs: Sequence[Callable[[], bool]], size: int) -> int:
    """Run jobs in transactions of `size`, delivering after each commit; return how many did something."""
    done = 0
    for start in range(0, len(jobs), size):
        batch = jobs[start:start + size]

        def run_batch(batch=batch) -> int:
            made = sum(1 for job in batch if job())
            db.session.commit()
            return made

        done += once_more_when_stale(db.session, run_batch)
        if sends_at_once(current_app.config):
            deliver_due(500)
    return done


@reminders_cli.command("send")
@click.option("--now", "now_text", default=None, help="Act as at this ISO 8601 time (to replay a moment).")
@click.option("--batch", default=50, show_default=True, help="Reminders or notes per transaction.")
def send_command(now_text: str | None, batch: int) -> None:
    """Queue and send every reminder, answer notice, alert and daily digest that is due and not sent yet."""
    now = parse_now(now_text)
    config, settings = current_app.config, mail_settings()
    size = max(batch, 1)
    due = reminders.due_reminders(db.session, now, hour=config["REMINDER_HOUR"])
    sent = in_batches([lambda item=item: reminders.queue_due(db.session, item, now, settings) for item in due], size)
    notices = in_batches([
        lambda row=row: digest.send_answer_notice(db.session, *row, now, settings)
        for row in digest.due_answer_notices(db.session, now)
    ], size)
    alerts = in_batches([
        lambda row=row: digest.send_alert(db.session, *row, now, settings) for row in digest.due_alerts(db.session, now)
    ], size)
    timezone = config["DEFAULT_TIMEZONE"]
    digests = in_batches([
        lambda organiser_id=organiser_id: digest.send_daily(db.session, organiser_id, now, settings, timezone=timezone)
        for organiser_id in digest.due_daily(db.session, now, hour=config["DIGEST_HOUR"], timezone=timezone)
    ], size)
    click.echo(f"{sent} reminders, {notices} answer notices, {alerts} alerts, {digests} digests settled.")
