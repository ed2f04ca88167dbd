"""Series: a recurring event whose dates become rounds, each its own Event with its own invitations.

A round is created (and its invitees proposed) `plan_days_ahead` days before it starts. The
unique (series_id, occurrence_on) of Event makes creation idempotent: however many `series run`
commands race, each date gets one round; the loser's insert fails and it moves on.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import (
    Event,
    EventExclusion,
    EventKind,
    EventStatus,
    PlanningMode,
    ProposalEntry,
    SendMode,
    Series,
    SeriesSkip,
    SeriesStatus,
)
from ..recurrence import Pattern, RecurrenceError, build_rrule, local_moment, occurrence_days, with_until
from . import planning
from .events import EventDraft, check_draft, create_event, event_day, today_in, zone
from .invites import send_invites
from .mails import MailSettings

#: how many of the coming dates the series page lists
UPCOMING = 8


class SeriesError(PlannerError):
    """A series that cannot be created or changed as asked."""


@dataclass(frozen=True)
class SeriesDraft:
    """The organiser's input for a series, in its own wall-clock time."""

    kind: EventKind
    title: str
    description: str
    location: str
    capacity: int
    start: time
    end: time
    timezone: str
    pattern: Pattern
    starts_on: date
    deadline_hours: int = 48
    reminder_days: int = 2
    is_auto_backfill: bool = False
    offer_hours: int | None = None
    plan_days_ahead: int = 14
    send_mode: SendMode = SendMode.REVIEW
    planning_mode: PlanningMode = PlanningMode.FAIR


def draft_of(series: Series) -> dict:
    """Return the series' settings as SeriesDraft fields (all but the pattern and start date)."""
    return {
        "kind": EventKind(series.kind), "title": series.title, "description": series.description,
        "location": series.location, "capacity": series.capacity, "start": series.start_time, "end": series.end_time,
        "timezone": series.timezone, "deadline_hours": series.deadline_hours, "reminder_days": series.reminder_days,
        "is_auto_backfill": series.is_auto_backfill, "offer_hours": series.offer_hours,
        "plan_days_ahead": series.plan_days_ahead,
        "send_mode": SendMode(series.send_mode), "planning_mode": PlanningMode(series.planning_mode),
    }


def check_series(draft: SeriesDraft, today: date) -> str:
    """Validate a series draft and return its RRULE; raise SeriesError (or RecurrenceError) with the reason."""
    zone(draft.timezone)
    if not draft.title.strip():
        raise SeriesError("The series needs a title.")
    if draft.end <= draft.start:
        raise SeriesError("Each round must end after it starts.")
    if draft.capacity < 1:
        raise SeriesError("The capacity must be at least 1.")
    if not 0 <= draft.deadline_hours <= 24 * 30:
        raise SeriesError("The answer deadline must be from 0 to 720 hours before each round.")
    if not 1 <= draft.plan_days_ahead <= 90:
        raise SeriesError("Rounds are planned from 1 to 90 days ahead.")
    if draft.starts_on < today:
        raise SeriesError("The series cannot start in the past.")
    rrule = build_rrule(draft.pattern)
    if not occurrence_days(rrule, draft.starts_on, after=draft.starts_on, until=draft.starts_on + timedelta(days=3660)):
        raise RecurrenceError("This recurrence has no date on or after the start date.")
    return rrule


def create_series(session: Session, organiser_id: int, draft: SeriesDraft, now: datetime) -> Series:
    """Create an active series from a validated draft; its rounds come with `series run`."""
    rrule = check_series(draft, today_in(draft.timezone, now))
    series = Series(
        kind=draft.kind, title=draft.title.strip(), description=draft.description.strip(), location=draft.location.strip(),
        capacity=draft.capacity, start_time=draft.start, end_time=draft.end, timezone=draft.timezone, rrule=rrule,
        starts_on=draft.starts_on, deadline_hours=draft.deadline_hours, reminder_days=draft.reminder_days,
        is_auto_backfill=draft.is_auto_backfill, offer_hours=draft.offer_hours, plan_days_ahead=draft.plan_days_ahead,
        send_mode=draft.send_mode, planning_mode=draft.planning_mode, status=SeriesStatus.ACTIVE, organiser_id=organiser_id,
    )
    session.add(series)
    session.flush()
    return series


def series_days(series: Series, *, after: date, until: date) -> list[date]:
    """Return the series' dates from after to until (inclusive), skipped dates left out."""
    skipped = {skip.occurrence_on for skip in series.skips}
    days = occurrence_days(series.rrule, series.starts_on, after=after, until=until, at=series.start_time)
    return [day for day in days if day not in skipped]


def starts_at(series: Series, day: date) -> datetime:
    """Return when the series' round on that date starts."""
    return local_moment(day, series.start_time, series.timezone)


def due_days(session: Session, series: Series, now: datetime) -> list[date]:
    """Return the dates whose round should exist by now (starting within plan_days_ahead) but does not yet."""
    if series.status != SeriesStatus.ACTIVE:
        return []
    today = today_in(series.timezone, now)
    horizon = today + timedelta(days=series.plan_days_ahead)
    existing = set(session.scalars(select(Event.occurrence_on).where(Event.series_id == series.id)))
    return [
        day for day in series_days(series, after=today, until=horizon)
        if day not in existing and now < starts_at(series, day) <= now + timedelta(days=series.plan_days_ahead)
    ]


def active_series(session: Session) -> list[Series]:
    """Return every active series, oldest first."""
    return list(session.scalars(select(Series).where(Series.status == SeriesStatus.ACTIVE).order_by(Series.id)))


def round_draft(series: Series, day: date, now: datetime) -> EventDraft:
    """Return the event draft of the series' round on day; the deadline is dropped when it would already be past."""
    start = starts_at(series, day)
    deadline = start - timedelta(hours=series.deadline_hours)
    naive_deadline = deadline.replace(tzinfo=None) if deadline > now and series.deadline_hours else None
    return EventDraft(
        kind=EventKind(series.kind), title=series.title, description=series.description, location=series.location,
        day=day, start=series.start_time, end=series.end_time, timezone=series.timezone, capacity=series.capacity,
        rsvp_deadline=naive_deadline,
    )


def create_round(session: Session, series: Series, day: date, now: datetime, uid_domain: str) -> Event:
    """Create the draft round of a series date (the caller proposes, sends and commits; a twin insert fails)."""
    event = create_event(session, series.organiser_id, round_draft(series, day, now), uid_domain)
    event.series_id = series.id
    event.occurrence_on = day
    event.planning_mode = series.planning_mode
    event.reminder_days = series.reminder_days
    event.is_auto_backfill, event.offer_hours = series.is_auto_backfill, series.offer_hours
    session.flush()
    return event


@dataclass(frozen=True)
class RoundOutcome:
    """What `series run` did for one date: the round made, whether it was sent, and a problem to look at."""

    series: Series
    day: date
    event: Event
    is_sent: bool
    problem: str | None


def make_round(session: Session, series: Series, day: date, now: datetime, *, mail: MailSettings, lookback_days: int,
               uid_domain: str) -> RoundOutcome:
    """Create a date's round, propose its invitees and, for an automatic series, send it; the caller commits."""
    event = create_round(session, series, day, now, uid_domain)
    try:
        planning.propose(session, event, now, lookback_days=lookback_days, seed=event.id)
    except PlannerError as error:
        return RoundOutcome(series, day, event, False, f"No proposal: {error}")
    if series.send_mode != SendMode.AUTOMATIC:
        return RoundOutcome(series, day, event, False, None)
    try:
        send_invites(session, event, mail)
    except PlannerError as error:
        return RoundOutcome(series, day, event, False, f"Not sent: {error}")
    return RoundOutcome(series, day, event, True, None)


def round_of(session: Session, series: Series, day: date) -> Event | None:
    """Return the round created for a series date, if any."""
    return session.scalar(select(Event).where(Event.series_id == series.id, Event.occurrence_on == day))


def remove_draft(session: Session, event: Event) -> None:
    """Delete a draft event with its proposal and exclusions."""
    if event.status != EventStatus.DRAFT:
        raise SeriesError("Only a draft round can be removed; cancel a sent one.")
    session.execute(delete(ProposalEntry).where(ProposalEntry.event_id == event.id))
    session.execute(delete(EventExclusion).where(EventExclusion.event_id == event.id))
    session.delete(event)
    session.flush()


def skip_day(session: Session, series: Series, day: date) -> Event | None:
    """Take one date out of the series; return its sent round, which the caller cancels (drafts are removed)."""
    if day not in series_days(series, after=day, until=day):
        raise SeriesError(f"{day:%d %b %Y} is not a date of this series.")
    existing = round_of(session, series, day)
    session.add(SeriesSkip(series_id=series.id, occurrence_on=day))
    if existing is not None and existing.status == EventStatus.DRAFT:
        remove_draft(session, existing)
        existing = None
    session.flush()
    return existing if existing is not None and existing.status == EventStatus.SENT else None


def move_day(session: Session, series: Series, day: date, new_day: date, now: datetime, uid_domain: str) -> Event:
    """Hold one date's round on another day (same times); the round is created now as a draft if it did not exist."""
    if day not in series_days(series, after=day, until=day):
        raise SeriesError(f"{day:%d %b %Y} is not a date of this series.")
    event = round_of(session, series, day)
    if event is not None and event.status != EventStatus.DRAFT:
        raise SeriesError("This round's invitations are sent: edit the round itself, so that calendars get an update.")
    start = local_moment(new_day, series.start_time, series.timezone)
    if start <= now:
        raise SeriesError("A round can only move to a time in the future.")
    if event is None:
        event = create_round(session, series, day, now, uid_domain)
    draft = replace(round_draft(series, day, now), day=new_day)
    event.starts_at, event.ends_at, event.rsvp_deadline_at = check_draft(draft, now)
    session.flush()
    return event


def end_series(session: Session, series: Series, now: datetime) -> list[Event]:
    """End a series: no new rounds, future drafts removed; return the future sent rounds, which the caller cancels."""
    if series.status != SeriesStatus.ACTIVE:
        raise SeriesError("This series has already ended.")
    series.status = SeriesStatus.ENDED
    series.ended_at = now
    to_cancel = []
    for event in list(series.events):
        if event.starts_at <= now:
            continue
        if event.status == EventStatus.DRAFT:
            remove_draft(session, event)
        elif event.status == EventStatus.SENT:
            to_cancel.append(event)
    session.flush()
    return to_cancel


def edit_from(session: Session, series: Series, draft: SeriesDraft, from_day: date | None, now: datetime) -> Series:
    """Change the series from a date on: the old one ends the day before, a new one (with the same owner and
    co-organisers) carries its rounds from that date.

    No date means today in the series' timezone (the server's date may still be yesterday there). Draft rounds from that date move to the new series and take its settings; sent ones move too and keep
    their own settings until the organiser edits them (so calendars get an update).
    """
    if series.status != SeriesStatus.ACTIVE:
        raise SeriesError("An ended series cannot be changed.")
    today = today_in(series.timezone, now)
    from_day = from_day or today
    if from_day < today:
        raise SeriesError("Changes apply from today or a later date.")
    draft = replace(draft, starts_on=max(from_day, series.starts_on))
    successor = create_series(session, series.organiser_id, draft, now)
    successor.previous_id = series.id
    successor.co_organisers = list(series.co_organisers)
    series.rrule = with_until(series.rrule, from_day - timedelta(days=1))
    series.status = SeriesStatus.ENDED
    series.ended_at = now
    for event in list(series.events):
        if event.occurrence_on is not None and event.occurrence_on >= from_day:
            event.series_id = successor.id
            if event.status == EventStatus.DRAFT:
                _restyle(event, successor, now)
    session.flush()
    return successor


def _restyle(event: Event, series: Series, now: datetime) -> None:
    """Give a draft round the settings of its series (its day stays)."""
    draft = round_draft(series, event_day(event), now)
    event.title, event.description, event.location = draft.title, draft.description, draft.location
    event.kind, event.capacity, event.timezone = draft.kind, draft.capacity, draft.timezone
    event.planning_mode = series.planning_mode
    event.is_auto_backfill, event.offer_hours = series.is_auto_backfill, series.offer_hours
    event.starts_at, event.ends_at, event.rsvp_deadline_at = check_draft(draft, now)


def lineage(series: Series) -> list[Series]:
    """Return the series and those it continues, newest first."""
    chain = [series]
    while chain[-1].previous is not None:
        chain.append(chain[-1].previous)
    return chain
