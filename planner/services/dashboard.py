"""The dashboard: what is coming with its reply funnel, rounds waiting for review, and what needs the organiser's attention.

Seven queries whatever the number of events: the counts of a new installation, the upcoming
events, their funnels, the rounds waiting for review, the mail in trouble, the bounced
invitations, and the seating plans of tomorrow's events.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload

from ..models import Answer, Event, EventStatus, Invitation, MailState, OutgoingMail, Person, ProposalEntry, SeatingPlan, Series
from ..text import plural
from .events import local
from .ownership import EVERYTHING
from .turns import Funnel, funnels


@dataclass(frozen=True)
class Thresholds:
    """When an event needs attention: how close the deadline, what share unanswered, how many to a table."""

    upcoming: int = 20  # events listed
    deadline_days: int = 2
    unanswered_share: float = 0.3
    table_size: int = 8


@dataclass(frozen=True)
class Setup:
    """What a new installation has so far."""

    people: int
    events: int
    series: int

    @property
    def is_new(self) -> bool:
        """Tell whether nothing is planned yet (no event, no series)."""
        return self.events == 0 and self.series == 0


@dataclass(frozen=True)
class Upcoming:
    """An event to come with its reply funnel."""

    event: Event
    funnel: Funnel


@dataclass(frozen=True)
class Review:
    """A draft round of a series waiting for the organiser's review."""

    event: Event
    proposed: int


@dataclass(frozen=True)
class Attention:
    """One thing the organiser should look at, and the event it is about (None for mail of no event)."""

    kind: str  # mail, bounce, seats, unanswered, seating
    text: str
    event_id: int | None


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows."""

    setup: Setup
    upcoming: list[Upcoming]
    reviews: list[Review]
    attention: list[Attention]


def setup_counts(session: Session) -> Setup:
    """Count the people, the events and the series, in one query."""
    row = session.execute(select(
        select(func.count(Person.id)).scalar_subquery(),
        select(func.count(Event.id)).scalar_subquery(),
        select(func.count(Series.id)).scalar_subquery(),
    )).one()
    return Setup(*row)


def upcoming_events(session: Session, now: datetime, limit: int, visible: ColumnElement[bool] = EVERYTHING) -> list[Event]:
    """Return the next events that are not over or cancelled, soonest first, with their series."""
    query = (
        select(Event)
        .options(joinedload(Event.series))
        .where(Event.status != EventStatus.CANCELLED, Event.ends_at >= now, visible)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def rounds_to_review(session: Session, now: datetime, visible: ColumnElement[bool] = EVERYTHING) -> list[Review]:
    """Return the draft rounds of series still to come, with the size of their proposals."""
    proposed = select(func.count(ProposalEntry.id)).where(ProposalEntry.event_id == Event.id).scalar_subquery()
    query = (
        select(Event, proposed)
        .options(joinedload(Event.series))
        .where(Event.status == EventStatus.DRAFT, Event.series_id.is_not(None), Event.starts_at > now, visible)
        .order_by(Event.starts_at, Event.id)
    )
    return [Review(event, count) for event, count in session.execute(query)]


def mail_trouble(session: Session, visible: ColumnElement[bool] = EVERYTHING) -> list[Attention]:
    """Say, per event, how many messages failed or wait for a retry (mail of no event only where `visible` is true)."""
    query = (
        select(OutgoingMail.event_id, Event.title, OutgoingMail.state, func.count(OutgoingMail.id))
        .outerjoin(Event, Event.id == OutgoingMail.event_id)
        .where(OutgoingMail.state.in_([MailState.FAILED, MailState.RETRY]), visible)
        .group_by(OutgoingMail.event_id, Event.title, OutgoingMail.state)
        .order_by(OutgoingMail.state, Event.title)
    )
    items = []
    for event_id, title, state, count in session.execute(query):
        what = "could not be sent" if state == MailState.FAILED else "will be tried again"
        about = f" for {title}" if title else ""
        items.append(Attention("mail", f"{plural(count, 'message')}{about} {what}.", event_id))
    return items


def bounces(session: Session, now: datetime, visible: ColumnElement[bool] = EVERYTHING) -> list[Attention]:
    """Say, per event to come, how many invitations bounced (and were not withdrawn)."""
    query = (
        select(Event.id, Event.title, func.count(Invitation.id))
        .join(Invitation, Invitation.event_id == Event.id)
        .where(Invitation.bounced_at.is_not(None), Invitation.cancelled_at.is_(None), Event.ends_at >= now,
               Event.status == EventStatus.SENT, visible)
        .group_by(Event.id, Event.title)
        .order_by(Event.title)
    )
    return [Attention("bounce", f"{plural(count, 'invitation')} to {title} bounced: check the addresses.",
                      event_id) for event_id, title, count in session.execute(query)]


def deadline_of(event: Event) -> datetime:
    """Return when answers close: the deadline, or the start when there is none."""
    return event.rsvp_deadline_at or event.starts_at


def answer_attention(item: Upcoming, now: datetime, thresholds: Thresholds) -> list[Attention]:
    """Say whether a sent event has free seats or many unanswered invitations with its deadline close."""
    event, funnel = item.event, item.funnel
    deadline = deadline_of(event)
    if event.status != EventStatus.SENT or not now <= deadline <= now + timedelta(days=thresholds.deadline_days):
        return []
    closes = local(deadline, event).strftime("%a %d %b %H:%M")
    found = []
    free = event.capacity - funnel.count(Answer.YES)
    if free > 0:
        found.append(Attention("seats", f"{event.title}: {plural(free, 'free seat')}, answers close {closes}.",
                               event.id))
    pending = funnel.count(Answer.PENDING)
    if funnel.invited and pending / funnel.invited > thresholds.unanswered_share:
        found.append(Attention("unanswered", f"{event.title}: {pending} of {funnel.invited} invitations unanswered, "
                                             f"answers close {closes}.", event.id))
    return found


def seating_attention(session: Session, upcoming: list[Upcoming], now: datetime, thresholds: Thresholds) -> list[Attention]:
    """Say which of tomorrow's events have more than one table of attendees and no published seating plan."""
    tomorrow = [
        item for item in upcoming
        if item.event.status == EventStatus.SENT
        and local(item.event.starts_at, item.event).date() == local(now, item.event).date() + timedelta(days=1)
        and item.funnel.count(Answer.YES) > thresholds.table_size
    ]
    if not tomorrow:
        return []
    plans = dict(session.execute(
        select(SeatingPlan.event_id, func.count(SeatingPlan.published_at))
        .where(SeatingPlan.event_id.in_([item.event.id for item in tomorrow]))
        .group_by(SeatingPlan.event_id)
    ).all())
    found = []
    for item in tomorrow:
        if item.event.id in plans and plans[item.event.id]:
            continue
        state = "its seating plan is not published" if item.event.id in plans else "no seating plan yet"
        found.append(Attention("seating", f"{item.event.title} is tomorrow with {item.funnel.count(Answer.YES)} attendees: "
                                          f"{state}.", item.event.id))
    return found


def dashboard(session: Session, now: datetime, thresholds: Thresholds, visible: ColumnElement[bool] = EVERYTHING) -> Dashboard:
    """Build the dashboard (seven queries at most, whatever the number of events) of the events `visible` (a condition
    of planner.services.ownership) lets the organiser see; the setup counts are the installation's."""
    setup = setup_counts(session)
    events = upcoming_events(session, now, thresholds.upcoming, visible)
    funnel_of = funnels(session, [event.id for event in events])
    upcoming = [Upcoming(event, funnel_of[event.id]) for event in events]
    attention = mail_trouble(session, visible) + bounces(session, now, visible)
    for item in upcoming:
        attention += answer_attention(item, now, thresholds)
    attention += seating_attention(session, upcoming, now, thresholds)
    return Dashboard(setup, upcoming, rounds_to_review(session, now, visible), attention)
