"""Dietary and access needs: remembered per person, offered on every RSVP page, shown only to organisers."""

import csv
import io
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Answer, Event, EventKind, Invitation, Person, PersonNeeds, utcnow
from ..text import control_problem, safe_cell
from .questions import QuestionCounts, question_counts

#: the common diets offered as checkboxes: stored code -> label
DIETS = {
    "vegetarian": "Vegetarian",
    "vegan": "Vegan",
    "gluten-free": "Gluten-free",
    "lactose-free": "Lactose-free",
    "halal": "Halal",
    "kosher": "Kosher",
    "nut-allergy": "Nut allergy",
}
#: longest free text kept for other dietary requirements and for access needs
NOTE_LENGTH = 500
#: the kinds of event whose RSVP page asks for needs (every page lets the person change them)
ASKING_KINDS = frozenset({EventKind.LUNCH, EventKind.DRINKS})
VENUE_COLUMNS = ("Name", "Dietary requirements", "Access needs")


class NeedsError(PlannerError):
    """Needs that cannot be stored as given."""


@dataclass(frozen=True)
class Needs:
    """One person's needs: common diets ticked, other dietary requirements, access needs."""

    diets: tuple[str, ...] = ()
    diet_note: str = ""
    access_note: str = ""

    @property
    def is_empty(self) -> bool:
        """Tell whether nothing is needed."""
        return not (self.diets or self.diet_note or self.access_note)

    @property
    def diet_text(self) -> str:
        """Return the dietary requirements as one line of text: the ticked diets, then the note."""
        return "; ".join([*(DIETS[code] for code in self.diets), *([self.diet_note] if self.diet_note else [])])


def asks_needs(event: Event) -> bool:
    """Tell whether the event's RSVP page asks for needs."""
    return event.kind in ASKING_KINDS


def check_needs(diets, diet_note: str | None, access_note: str | None) -> Needs:
    """Return the needs as given, cleaned; raise NeedsError on an unknown diet, a control character or an overlong text."""
    unknown = [code for code in diets if code not in DIETS]
    if unknown:
        raise NeedsError(f"Unknown dietary choice {unknown[0]!r}.")
    notes = []
    for name, value in (("The dietary requirements", diet_note), ("The access needs", access_note)):
        value = (value or "").replace("\r\n", "\n").strip()
        problem = control_problem(value, multiline=True)
        if problem:
            raise NeedsError(f"{name} {problem}: write plain text.")
        if len(value) > NOTE_LENGTH:
            raise NeedsError(f"{name} are too long: at most {NOTE_LENGTH} characters.")
        notes.append(value)
    return Needs(tuple(code for code in DIETS if code in set(diets)), *notes)


def as_needs(row: PersonNeeds | None) -> Needs:
    """The needs a stored row holds (empty for none)."""
    return Needs() if row is None else stored_needs(row.diets, row.diet_note, row.access_note)


def stored_needs(diets: str | None, diet_note: str, access_note: str) -> Needs:
    """The needs a stored row's columns hold; diets None (an outer join found no row) is no needs."""
    if diets is None:
        return Needs()
    return Needs(tuple(code for code in diets.split(",") if code in DIETS), diet_note, access_note)


def needs_of(session: Session, person_id: int) -> Needs:
    """Return a person's remembered needs (empty when none are stored)."""
    return as_needs(session.scalar(select(PersonNeeds).where(PersonNeeds.person_id == person_id)))


def save_needs(session: Session, person_id: int, needs: Needs) -> bool:
    """Remember a person's needs (empty needs delete what was stored); return whether anything changed."""
    row = session.scalar(select(PersonNeeds).where(PersonNeeds.person_id == person_id))
    if as_needs(row) == needs:
        return False
    if needs.is_empty:
        session.delete(row)
    elif row is None:
        session.add(PersonNeeds(person_id=person_id, diets=",".join(needs.diets), diet_note=needs.diet_note,
                                access_note=needs.access_note))
    else:
        row.diets, row.diet_note, row.access_note = ",".join(needs.diets), needs.diet_note, needs.access_note
        row.updated_at = utcnow()
    session.flush()
    return True


def clear_needs(session: Session, person_id: int) -> None:
    """Forget a person's needs."""
    session.execute(delete(PersonNeeds).where(PersonNeeds.person_id == person_id))


@dataclass(frozen=True)
class VenueRow:
    """One person coming, as the venue sees them: a name and needs, nothing else."""

    name: str
    diets: str
    access: str


@dataclass(frozen=True)
class NeedsCounts:
    """How many of the people coming need what."""

    coming: int
    diets: list[tuple[str, int]]
    other_diets: int
    access: int
    venue: list[VenueRow]


def needs_counts(session: Session, event: Event) -> NeedsCounts:
    """Count the needs of an event's people with a yes and list them for the venue (one SQL statement)."""
    rows = session.execute(
        select(Person.name, PersonNeeds)
        .join(Invitation, Invitation.person_id == Person.id)
        .outerjoin(PersonNeeds, PersonNeeds.person_id == Person.id)
        .where(Invitation.event_id == event.id, Invitation.answer == Answer.YES, Invitation.cancelled_at.is_(None))
        .order_by(Person.name, Person.id)
    ).all()
    people = [(name, as_needs(row)) for name, row in rows]
    diets = Counter(code for _, needs in people for code in needs.diets)
    return NeedsCounts(
        coming=len(people),
        diets=[(label, diets[code]) for code, label in DIETS.items()],
        other_diets=sum(1 for _, needs in people if needs.diet_note),
        access=sum(1 for _, needs in people if needs.access_note),
        venue=[VenueRow(name, needs.diet_text, needs.access_note) for name, needs in people],
    )


def venue_csv(rows: list[VenueRow]) -> str:
    """Return the venue list as CSV: names and needs only, every cell safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(VENUE_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in (row.name, row.diets, row.access)])
    return out.getvalue()


@dataclass(frozen=True)
class NeedsSection:
    """What templates/events/_needs.html shows: the needs of the people coming and the answers to the questions."""

    needs: NeedsCounts
    questions: list[QuestionCounts]


def needs_section(session: Session, event: Event) -> NeedsSection:
    """Build the needs and questions part of an event's page (three SQL statements, whatever the number of people)."""
    return NeedsSection(needs_counts(session, event), question_counts(session, event))
