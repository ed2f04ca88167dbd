"""Creating and editing events, with the defaults each kind brings."""

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Event, EventExclusion, EventKind, EventStatus, Invitation, utcnow


class EventError(PlannerError):
    """An event that cannot be created or changed as asked."""


@dataclass(frozen=True)
class KindDefaults:
    """What a new event of one kind starts with."""

    title: str
    start: time
    end: time
    capacity: int
    deadline_days: int


KIND_DEFAULTS = {
    EventKind.LUNCH: KindDefaults("Team lunch", time(12, 0), time(13, 0), 8, 2),
    EventKind.DRINKS: KindDefaults("After-work drinks", time(17, 30), time(19, 30), 30, 3),
    EventKind.TRAINING: KindDefaults("Training day", time(9, 0), time(17, 0), 20, 7),
}


@dataclass(frozen=True)
class EventDraft:
    """The organiser's input for an event, in the event's own wall-clock time."""

    kind: EventKind
    title: str
    description: str
    location: str
    day: date
    start: time
    end: time
    timezone: str
    capacity: int
    rsvp_deadline: datetime | None  # naive, in the event's timezone
    #: remind who has not answered this many days before the deadline (0: no reminder)
    reminder_days: int = 2
    #: refill a decline by itself: the waiting list first, then an offer to whose turn it is
    is_auto_backfill: bool = False
    #: how long such an offer holds its seat; None: the OFFER_HOURS setting
    offer_hours: int | None = None


def draft_for(kind: EventKind, now: datetime, timezone: str) -> EventDraft:
    """Return a new event of this kind a week from today (in its timezone) with the kind's defaults."""
    defaults = KIND_DEFAULTS[kind]
    today = today_in(timezone, now)
    day = today + timedelta(days=7)
    deadline = default_deadline(kind, day, defaults.start, today)
    return EventDraft(kind, defaults.title, "", "", day, defaults.start, defaults.end, timezone, defaults.capacity, deadline)


def default_deadline(kind: EventKind, day: date, start: time, today: date) -> datetime | None:
    """Return the kind's answer deadline for an event on day (17:00, never before tomorrow); None when it would not come first."""
    deadline_day = max(day - timedelta(days=KIND_DEFAULTS[kind].deadline_days), today + timedelta(days=1))
    deadline = datetime.combine(deadline_day, time(17, 0))
    return deadline if deadline < datetime.combine(day, start) else None


def with_default_deadline(draft: EventDraft, now: datetime, shown_default: datetime | None) -> EventDraft:
    """Return the draft whose deadline follows its date and kind when none is given or the shown default was left as it was."""
    if draft.rsvp_deadline is not None and draft.rsvp_deadline != shown_default:
        return draft
    today = today_in(draft.timezone, now)
    return replace(draft, rsvp_deadline=default_deadline(draft.kind, draft.day, draft.start, today))


def zone(name: str) -> ZoneInfo:
    """Return the IANA timezone of that name; raise EventError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise EventError(f"Unknown timezone {name!r}; use an IANA name such as Europe/Berlin.") from None


def today_in(timezone: str, now: datetime) -> date:
    """Return the date it is at now in that timezone: an event's own today, not the server's."""
    return now.astimezone(zone(timezone)).date()


def check_draft(draft: EventDraft, now: datetime) -> tuple[datetime, datetime, datetime | None]:
    """Validate a draft; return its start, end and deadline as aware datetimes or raise EventError."""
    tz = zone(draft.timezone)
    starts_at = datetime.combine(draft.day, draft.start, tzinfo=tz)
    ends_at = datetime.combine(draft.day, draft.end, tzinfo=tz)
    if ends_at <= starts_at:
        raise EventError("The event must end after it starts.")
    if starts_at <= now:
        raise EventError("The event must start in the future.")
    if draft.capacity < 1:
        raise EventError("The capacity must be at least 1.")
    deadline = draft.rsvp_deadline.replace(tzinfo=tz) if draft.rsvp_deadline else None
    if deadline is not None and deadline > starts_at:
        raise EventError("The RSVP deadline must be before the event starts.")
    if not draft.title.strip():
        raise EventError("The event needs a title.")
    return starts_at, ends_at, deadline


def create_event(session: Session, organiser_id: int, draft: EventDraft, uid_domain: str) -> Event:
    """Create a draft event from validated input."""
    now = utcnow()
    starts_at, ends_at, deadline = check_draft(draft, now)
    if deadline is not None and deadline <= now:
        raise EventError("The RSVP deadline has already passed; choose a later one or leave it empty.")
    event = Event(
        uid=f"{uuid.uuid4()}@{uid_domain}",
        kind=draft.kind,
        title=draft.title.strip(),
        description=draft.description.strip(),
        location=draft.location.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=draft.timezone,
        capacity=draft.capacity,
        rsvp_deadline_at=deadline,
        reminder_days=draft.reminder_days,
        is_auto_backfill=draft.is_auto_backfill,
        offer_hours=draft.offer_hours,
        status=EventStatus.DRAFT,
        organiser_id=organiser_id,
    )
    session.add(event)
    session.flush()
    return event


def delete_draft(session: Session, event: Event) -> None:
    """Delete an event whose invitations have not gone out, with its proposal and exclusions."""
    if event.status != EventStatus.DRAFT or event.invitations:
        raise EventError("Only a draft can be deleted; cancel a sent event instead.")
    session.execute(delete(EventExclusion).where(EventExclusion.event_id == event.id))
    session.delete(event)
    session.flush()


def local(moment: datetime | None, event: Event) -> datetime | None:
    """Return a stored UTC moment in the event's own timezone."""
    return moment.astimezone(ZoneInfo(event.timezone)) if moment else None


def event_day(event: Event) -> date:
    """Return the event's date in its own timezone."""
    return local(event.starts_at, event).date()


def still_invited(event: Event) -> list[Invitation]:
    """Return the event's invitations that were not withdrawn."""
    return [invitation for invitation in event.invitations if invitation.cancelled_at is None]


def is_open_for_answers(event: Event, now: datetime) -> bool:
    """Tell whether invitees may still answer."""
    if event.status != EventStatus.SENT:
        return False
    deadline = event.rsvp_deadline_at or event.starts_at
    return now < deadline
