"""Reminders to invitees: to answer, some days before the deadline; to a yes, the day before the event. Each once.

The unanswered reminder is due `Event.reminder_days` days before the answer deadline (at the same
time on the event's wall clock, also across a daylight saving change), while the deadline has not
passed, and never when the invitation went out after that moment (the deadline was too close). The
day-before reminder is due from REMINDER_HOUR (the event's wall clock) on the day before the event
until it starts. Nobody withdrawn, bounced or opted out is reminded, nor (for the first kind) anyone
who answered. A Reminder row, UNIQUE(invitation_id, kind), is inserted with ON CONFLICT DO NOTHING
in the same transaction as its mail: a run that loses the race to another inserts nothing, queues
nothing and goes on; a run killed before its commit leaves neither.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, contains_eager, joinedload

from ..models import Answer, Event, EventStatus, Invitation, Person, Reminder, ReminderKind
from .events import local, zone
from .mails import MailSettings, queue_reminder
from .seating import your_table


@dataclass(frozen=True)
class Due:
    """One reminder to queue: which invitation, which kind, and its event (to deliver after the commit)."""

    invitation_id: int
    kind: ReminderKind
    event_id: int


def insert_once(session: Session, model, **values) -> int | None:
    """Insert a row unless its unique key exists (also when a concurrent transaction has just inserted it); return its id
    or None."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    return session.execute(statement).scalar()


def _reachable(kind: ReminderKind):
    """Invitations that may get this reminder: sent event, active, not bounced, not opted out, not reminded yet."""
    reminded = exists().where(Reminder.invitation_id == Invitation.id, Reminder.kind == kind)
    return and_(
        Event.status == EventStatus.SENT, Invitation.cancelled_at.is_(None), Invitation.bounced_at.is_(None),
        Person.is_opted_out.is_(False), ~reminded,
    )


def unanswered_moment(event: Event) -> datetime | None:
    """Return when the event's unanswered reminder is due (days before the deadline on its wall clock), or None."""
    if event.rsvp_deadline_at is None or event.reminder_days <= 0:
        return None
    return local(event.rsvp_deadline_at, event) - timedelta(days=event.reminder_days)


def day_before_moment(event: Event, hour: int) -> datetime:
    """Return when the day-before reminder is due: at `hour` on the eve of the event, on the event's wall clock."""
    eve = local(event.starts_at, event).date() - timedelta(days=1)
    return datetime.combine(eve, time(hour), tzinfo=zone(event.timezone))


def due_reminders(session: Session, now: datetime, *, hour: int) -> list[Due]:
    """Return every reminder due at now and not queued yet, oldest invitation first (two queries)."""
    base = select(Invitation.id, Invitation.created_at, Event).join(Invitation.event).join(Invitation.person)
    due = []
    unanswered = base.where(
        _reachable(ReminderKind.UNANSWERED), Invitation.answer == Answer.PENDING, Event.rsvp_deadline_at > now,
        Event.reminder_days > 0,
    )
    for invitation_id, created_at, event in session.execute(unanswered.order_by(Invitation.id)):
        moment = unanswered_moment(event)
        if created_at < moment <= now:
            due.append(Due(invitation_id, ReminderKind.UNANSWERED, event.id))
    coming = base.where(
        _reachable(ReminderKind.DAY_BEFORE), Invitation.answer == Answer.YES, Event.starts_at > now,
        Event.starts_at <= now + timedelta(days=2),
    )
    for invitation_id, _created_at, event in session.execute(coming.order_by(Invitation.id)):
        if day_before_moment(event, hour) <= now:
            due.append(Due(invitation_id, ReminderKind.DAY_BEFORE, event.id))
    return due


def queue_due(session: Session, due: Due, now: datetime, settings: MailSettings) -> bool:
    """Insert the Reminder row and queue its mail in the caller's transaction; False when it was already queued."""
    reminder_id = insert_once(session, Reminder, invitation_id=due.invitation_id, kind=due.kind, queued_at=now)
    if reminder_id is None:
        return False
    invitation = session.get(Invitation, due.invitation_id)
    table = your_table(session, invitation) if due.kind == ReminderKind.DAY_BEFORE else None
    mail = queue_reminder(session, invitation, settings, now, kind=due.kind, table=table)
    session.flush()
    session.execute(update(Reminder).where(Reminder.id == reminder_id).values(mail_id=mail.id))
    return True


def event_reminders(session: Session, event_id: int) -> list[Reminder]:
    """Return the reminders queued for an event's invitees, with person and mail state (one query)."""
    query = (
        select(Reminder).join(Reminder.invitation).join(Invitation.person)
        .where(Invitation.event_id == event_id)
        .options(contains_eager(Reminder.invitation).contains_eager(Invitation.person), joinedload(Reminder.mail))
        .order_by(Reminder.queued_at, Reminder.id)
    )
    return list(session.scalars(query))
