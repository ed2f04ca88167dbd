"""`flask series run`: create and plan the rounds that are due, and record the attendance of events that are over."""

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from ..config import sends_at_once
from ..extensions import db
from ..mailer import deliver_event_mail, mail_settings
from ..models import Event, Series, utcnow
from ..services import audit
from ..services.attendance import events_to_record, record_attendance
from ..services.locking import once_more_when_stale
from ..services.series import RoundOutcome, active_series, due_days, make_round, round_of
from ..text import plural

series_cli = AppGroup("series", help="Recurring events: plan due rounds.")


def parse_now(text: str | None) -> datetime:
    """Return the moment to act as: now, or an ISO 8601 time (UTC when it names no zone)."""
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("give an ISO 8601 time such as 2027-03-01T08:00 or 2027-03-01T08:00+01:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_round(series_id: int, day, now: datetime) -> RoundOutcome | None:
    """Make one date's round in its own transaction; None when another run made it first."""
    series = db.session.get(Series, series_id)
    if round_of(db.session, series, day) is not None:
        db.session.rollback()
        return None
    try:
        outcome = make_round(
            db.session, series, day, now, mail=mail_settings(),
            lookback_days=current_app.config["LOOKBACK_DAYS"], uid_domain=current_app.config["REPLY_DOMAIN"],
        )
        audit.record(db.session, "series.send" if outcome.is_sent else "series.round", actor=audit.COMMAND_LINE,
                     subject=("series", series_id), summary=f"round on {day.isoformat()}: event {outcome.event.id}")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return outcome


def record_one(event_id: int, now: datetime) -> int | None:
    """Record one ended event's attendance in its own transaction; None when another run did it first."""
    event = db.session.get(Event, event_id, populate_existing=True)
    if event.attendance_recorded_at is not None:
        db.session.rollback()
        return None
    pairs = record_attendance(db.session, event, now)
    audit.record(db.session, "attendance.record", actor=audit.COMMAND_LINE, subject=("event", event_id),
                 summary=f"after the event, {plural(pairs, 'pair')} met")
    db.session.commit()
    return pairs


@series_cli.command("run")
@click.option("--now", "now_text", default=None, help="Act as at this ISO 8601 time (to replay a moment).")
def run_command(now_text: str | None) -> None:
    """Create, plan (and for automatic series send) every due round, then record attendance of past events."""
    now = parse_now(now_text)
    made = 0
    for series in active_series(db.session):
        series_id = series.id
        for day in due_days(db.session, series, now):
            outcome = once_more_when_stale(db.session, lambda: run_round(series_id, day, now))
            if outcome is None:
                continue
            made += 1
            state = "sent" if outcome.is_sent else "waiting for review"
            click.echo(f"{outcome.series.title}: round on {day:%Y-%m-%d} created, {state}.")
            if outcome.problem:
                click.echo(f"  {outcome.problem}", err=True)
            if outcome.is_sent and sends_at_once(current_app.config):
                deliver_event_mail(outcome.event.id)
    recorded = 0
    for event_id in events_to_record(db.session, now):
        pairs = once_more_when_stale(db.session, lambda: record_one(event_id, now))
        if pairs is not None:
            recorded += 1
            click.echo(f"Event {event_id}: attendance recorded, {plural(pairs, 'pair')} met.")
    click.echo(f"{plural(made, 'round')} created; attendance recorded for {plural(recorded, 'event')}.")
