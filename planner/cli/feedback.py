"""`flask feedback send`: ask yesterday's attendees for feedback, and remind once those who have not answered."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from ..config import sends_at_once
from ..extensions import db
from ..mailer import deliver_event_mail, mail_settings
from ..models import FeedbackMailKind, Invitation
from ..services.feedback import attendees_to_ask, attendees_to_remind, feedback_url, mark_sent
from ..services.mails import queue_feedback
from .series import parse_now

feedback_cli = AppGroup("feedback", help="Feedback after events.")


def send_one(invitation_id: int, kind: FeedbackMailKind, now) -> int | None:
    """Queue one feedback mail with its UNIQUE row in one transaction; return its event id, None when sent before."""
    invitation = db.session.get(Invitation, invitation_id)
    settings = mail_settings()
    try:
        token = mark_sent(db.session, invitation, kind, settings, now)
        queue_feedback(db.session, invitation, settings, now, feedback_url=feedback_url(token, settings), kind=kind)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return invitation.event_id


@feedback_cli.command("send")
@click.option("--now", "now_text", default=None, help="Act as at this ISO 8601 time (to replay a moment).")
def send_command(now_text: str | None) -> None:
    """Queue the feedback mails that are due (safe to run from cron as often as you like)."""
    now = parse_now(now_text)
    events: set[int] = set()
    counts = {}
    due = {
        FeedbackMailKind.REQUEST: attendees_to_ask(db.session, now, window_days=current_app.config["FEEDBACK_WINDOW_DAYS"]),
        FeedbackMailKind.REMINDER: attendees_to_remind(db.session, now),
    }
    db.session.rollback()
    for kind, invitation_ids in due.items():
        sent = [send_one(invitation_id, kind, now) for invitation_id in invitation_ids]
        events.update(event_id for event_id in sent if event_id is not None)
        counts[kind] = sum(event_id is not None for event_id in sent)
    if sends_at_once(current_app.config):
        for event_id in sorted(events):
            deliver_event_mail(event_id)
    click.echo(f"{counts[FeedbackMailKind.REQUEST]} feedback requests and {counts[FeedbackMailKind.REMINDER]} reminders queued.")
