"""Attendance after an event: who came (every yes, less the no-shows the organiser marks) and who met whom.

Once an event is over its pairs are recorded by themselves (`series run` does it for every ended
event): the tables of its published seating plan, or, for a lunch without one (one table), every
pair of attendees. Marking a no-show afterwards records the event's pairs again without them.
"""

from datetime import datetime
from itertools import combinations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Answer, Event, EventKind, EventStatus, Invitation, PairMeeting, SeatingPlan
from .events import event_day


class AttendanceError(PlannerError):
    """Attendance that cannot be recorded as asked."""


def attendee_ids(session: Session, event: Event) -> list[int]:
    """Return the ids of the people who came: a yes, not un-invited, not marked as a no-show."""
    query = select(Invitation.person_id).where(
        Invitation.event_id == event.id,
        Invitation.answer == Answer.YES,
        Invitation.cancelled_at.is_(None),
        Invitation.is_no_show.is_(False),
    )
    return sorted(session.scalars(query))


def met_pairs(session: Session, event: Event, came: list[int]) -> set[tuple[int, int]]:
    """Return the pairs who met at the event: table by table from its published plan, or all of a lunch's table."""
    present = set(came)
    plan = session.scalar(
        select(SeatingPlan)
        .where(SeatingPlan.event_id == event.id, SeatingPlan.published_at.is_not(None))
        .order_by(SeatingPlan.published_at.desc())
    )
    if plan is not None:
        tables: dict[int, list[int]] = {}
        for seat in plan.seats:
            if seat.person_id in present:
                tables.setdefault(seat.table_index, []).append(seat.person_id)
        groups = list(tables.values())
    elif event.kind == EventKind.LUNCH:
        groups = [came]
    else:
        groups = []
    return {tuple(sorted(pair)) for members in groups for pair in combinations(members, 2)}


def record_attendance(session: Session, event: Event, now: datetime) -> int:
    """Make the event's pair history exactly the pairs of the people who came; return the pair count."""
    if event.status != EventStatus.SENT:
        raise AttendanceError("Attendance is recorded for events whose invitations were sent and that took place.")
    if now < event.ends_at:
        raise AttendanceError("Attendance can be recorded once the event is over.")
    pairs = met_pairs(session, event, attendee_ids(session, event))
    session.execute(delete(PairMeeting).where(PairMeeting.event_id == event.id))
    day = event_day(event)
    session.add_all(PairMeeting(person_a_id=a, person_b_id=b, event_id=event.id, met_on=day) for a, b in sorted(pairs))
    event.attendance_recorded_at = now
    session.flush()
    return len(pairs)


def set_no_shows(session: Session, event: Event, no_show_ids: set[int], now: datetime) -> int:
    """Mark exactly these invitees as no-shows (the others who said yes came); re-record the pairs once recorded."""
    if now < event.starts_at:
        raise AttendanceError("No-shows can be marked once the event has started.")
    for invitation in event.invitations:
        invitation.is_no_show = invitation.answer == Answer.YES and invitation.person_id in no_show_ids
    session.flush()
    if event.attendance_recorded_at is not None and now >= event.ends_at:
        record_attendance(session, event, now)
    return sum(invitation.is_no_show for invitation in event.invitations)


def events_to_record(session: Session, now: datetime) -> list[int]:
    """Return the ids of sent events that are over and whose attendance was not recorded yet."""
    query = select(Event.id).where(
        Event.status == EventStatus.SENT, Event.ends_at <= now, Event.attendance_recorded_at.is_(None)
    )
    return list(session.scalars(query.order_by(Event.ends_at)))
