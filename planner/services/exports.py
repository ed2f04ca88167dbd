"""What the event's exports hold: attendees, answers with notes and the seating plan, as rows; CSV written safely."""

import csv
import io
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import Answer, Event, Invitation, Seat, SeatingPlan
from ..text import safe_cell
from .events import event_day, local
from .seating import current_plan, published_plan

ATTENDEE_HEADER = ("Name", "Email", "Department", "Level")
ANSWER_HEADER = ("Name", "Email", "Department", "Answer", "Answered at", "Note", "Withdrawn")
SEATING_HEADER = ("Table", "Name", "Department", "Level")


def _invitations(session: Session, event: Event) -> list[Invitation]:
    query = (
        select(Invitation)
        .where(Invitation.event_id == event.id)
        .options(selectinload(Invitation.person))
        .order_by(Invitation.id)
    )
    return list(session.scalars(query))


def attendee_rows(session: Session, event: Event, level_name: Callable[[int], str]) -> list[tuple]:
    """Return one row per person coming (a yes, not withdrawn), by name."""
    people = [
        invitation.person for invitation in _invitations(session, event)
        if invitation.answer == Answer.YES and invitation.cancelled_at is None
    ]
    people.sort(key=lambda person: (person.name.casefold(), person.id))
    return [(person.name, person.email, person.department, level_name(person.level)) for person in people]


def answer_rows(session: Session, event: Event) -> list[tuple]:
    """Return one row per invitation: the answer, when it was given (event's time), the note, whether withdrawn."""
    rows = []
    for invitation in _invitations(session, event):
        answered = local(invitation.answered_at, event)
        rows.append((
            invitation.person.name, invitation.person.email, invitation.person.department, str(invitation.answer),
            answered.strftime("%Y-%m-%d %H:%M") if answered else "", invitation.comment or "",
            "yes" if invitation.cancelled_at else "",
        ))
    return rows


def seating_plan_for_export(session: Session, event: Event) -> SeatingPlan | None:
    """Return the plan to export: the published one, else the newest draft, else None."""
    return published_plan(session, event) or current_plan(session, event)


def seating_rows(session: Session, event: Event, level_name: Callable[[int], str]) -> list[tuple]:
    """Return one row per seat of the exported plan, table by table (tables counted from 1)."""
    plan = seating_plan_for_export(session, event)
    if plan is None:
        return []
    seats = session.scalars(select(Seat).where(Seat.plan_id == plan.id).options(selectinload(Seat.person)))
    ordered = sorted(seats, key=lambda seat: (seat.table_index, seat.person.name.casefold(), seat.person_id))
    return [(seat.table_index + 1, seat.person.name, seat.person.department, level_name(seat.person.level)) for seat in ordered]


def to_csv(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Return CSV text with a header; every cell goes through planner.text.safe_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def export_filename(event: Event, what: str) -> str:
    """Return a download name with the event's date, e.g. "2026-12-08-attendees.csv"."""
    return f"{event_day(event):%Y-%m-%d}-{what}.csv"
