"""Keeping calendars in step: updates, un-invitations and cancellations of sent events."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Answer, Event, EventStatus, Invitation, OutgoingMail
from .capacity import fill_free_seats, next_in_line
from .events import EventDraft, check_draft, still_invited, zone
from .locking import lock_event
from .mails import MailSettings, queue_change


class ChangeError(PlannerError):
    """A change to a sent event that cannot be made."""


@dataclass(frozen=True)
class EventUpdate:
    """What an edit would change, in words, who would get the update, and who on the waiting list would get a seat."""

    new_values: dict
    changes: list[str]
    recipients: list[Invitation]
    promoted: list[Invitation]

    @property
    def needs_mail(self) -> bool:
        """Tell whether the edit touches what calendars show."""
        return bool(self.changes)


def _require_sent(event: Event) -> None:
    if event.status != EventStatus.SENT:
        raise ChangeError("Only events whose invitations were sent can be changed or cancelled.")


def preview_update(session: Session, event: Event, draft: EventDraft, now: datetime) -> EventUpdate:
    """Validate an edit and describe what it changes for calendars and for seats; raise EventError or ChangeError."""
    _require_sent(event)
    starts_at, ends_at, deadline = check_draft(draft, now)
    values = {
        "kind": draft.kind, "title": draft.title.strip(), "description": draft.description.strip(),
        "location": draft.location.strip(), "starts_at": starts_at, "ends_at": ends_at, "timezone": draft.timezone,
        "capacity": draft.capacity, "rsvp_deadline_at": deadline, "reminder_days": draft.reminder_days,
        "is_auto_backfill": draft.is_auto_backfill, "offer_hours": draft.offer_hours,
    }
    changes = _describe(event, values)
    promoted = next_in_line(session, event, capacity=draft.capacity)
    return EventUpdate(values, changes, still_invited(event) if changes else [], promoted)


def _describe(event: Event, new: dict) -> list[str]:
    changes = []
    old_when = _when(event.starts_at, event.ends_at, event.timezone)
    new_when = _when(new["starts_at"], new["ends_at"], new["timezone"])
    if old_when != new_when:
        changes.append(f"The time changed from {old_when} to {new_when}.")
    if event.location != new["location"]:
        changes.append(f"The place changed from {event.location or '(none)'} to {new['location'] or '(none)'}.")
    if event.title != new["title"]:
        changes.append(f"The title changed from “{event.title}” to “{new['title']}”.")
    if event.description != new["description"]:
        changes.append("The description changed.")
    return changes


def _when(starts_at: datetime, ends_at: datetime, timezone: str) -> str:
    tz = zone(timezone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %Y, %H:%M}"
    return f"{start:%a %d %b %Y, %H:%M}–{end_text} ({timezone})"


def apply_update(session: Session, event: Event, draft: EventDraft, settings: MailSettings, now: datetime) -> list[OutgoingMail]:
    """Save an edit; when calendars are affected, raise SEQUENCE and queue an updated REQUEST to everyone still invited.

    Seats a higher capacity adds go to the waiting list, oldest first (each told by mail).
    """
    lock_event(session, event.id)
    preview = preview_update(session, event, draft, now)
    for name, value in preview.new_values.items():
        setattr(event, name, value)
    fill_free_seats(session, event, settings, now)
    if not preview.needs_mail:
        session.flush()
        return []
    event.sequence += 1
    queued = [
        queue_change(session, invitation, settings, now, kind="update", changes=preview.changes)
        for invitation in preview.recipients
    ]
    session.flush()
    return queued


def preview_uninvite(session: Session, invitation: Invitation) -> list[Invitation]:
    """Return who on the waiting list would get the seat that un-inviting this invitation frees (nobody unless a yes)."""
    return next_in_line(session, invitation.event, leaving=invitation)


def uninvite(session: Session, invitation: Invitation, settings: MailSettings, now: datetime) -> OutgoingMail:
    """Withdraw one invitation and queue a CANCEL to that person only; a seat it held goes to the waiting list."""
    _require_sent(invitation.event)
    lock_event(session, invitation.event_id)
    withdrawn = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.cancelled_at.is_(None))
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if withdrawn.rowcount != 1:
        raise ChangeError(f"{invitation.person.name} was already un-invited.")
    session.refresh(invitation)
    mail = queue_change(session, invitation, settings, now, kind="uninvite")
    if invitation.answer == Answer.YES:
        fill_free_seats(session, invitation.event, settings, now)
    session.flush()
    return mail


def cancel_event(session: Session, event: Event, settings: MailSettings, now: datetime) -> list[OutgoingMail]:
    """Cancel a sent event and queue METHOD:CANCEL with STATUS:CANCELLED to everyone still invited."""
    cancelled = session.execute(
        update(Event)
        .where(Event.id == event.id, Event.status == EventStatus.SENT)
        .values(status=EventStatus.CANCELLED, cancelled_at=now, sequence=Event.sequence + 1)
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:
        raise ChangeError("Only events whose invitations were sent can be cancelled, and only once.")
    session.refresh(event)
    queued = [queue_change(session, invitation, settings, now, kind="cancel") for invitation in still_invited(event)]
    session.flush()
    return queued

