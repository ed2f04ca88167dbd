"""Turns over a series: each round's reply funnel, who has had a turn, who is due next, who was never invited."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..models import Answer, Event, Invitation, Person

#: how many names each list on the series page shows (the counts are complete)
SHOWN = 50


@dataclass(frozen=True)
class Funnel:
    """One round's invitations by answer."""

    invited: int
    answers: Counter

    def count(self, answer: Answer) -> int:
        """Return how many invitations have this answer."""
        return self.answers.get(answer, 0)


@dataclass(frozen=True)
class Turns:
    """Over a series: how many eligible people had a turn, and the first names of those due and never invited."""

    eligible: int
    had_turn: int
    had_turn_people: list[Person]
    due: list[Person]
    due_count: int
    never_invited: list[Person]
    never_count: int


def funnels(session: Session, event_ids: list[int]) -> dict[int, Funnel]:
    """Return each event's reply funnel (withdrawn invitations left out), in one query."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(Invitation.event_id, Invitation.answer, func.count(Invitation.id))
        .where(Invitation.event_id.in_(event_ids), Invitation.cancelled_at.is_(None))
        .group_by(Invitation.event_id, Invitation.answer)
    ).all()
    answers: dict[int, Counter] = {event_id: Counter() for event_id in event_ids}
    for event_id, answer, count in rows:
        answers[event_id][Answer(answer)] += count
    return {event_id: Funnel(sum(counter.values()), counter) for event_id, counter in answers.items()}


def _eligible(today: date):
    return (
        Person.is_active.is_(True),
        Person.is_opted_out.is_(False),
        or_(Person.on_leave_until.is_(None), Person.on_leave_until < today),
    )


def series_turns(session: Session, series_ids: list[int], today: date) -> Turns:
    """Count turns in these series' rounds for everyone eligible today; due = the eligible with the fewest turns.

    Counted in SQL (five statements) from the series' invitations outwards, and the lists walk the directory in
    name order (ix_person_name) until they are full, so the page costs the same whatever the size of the directory.
    """
    per_person = (
        select(Invitation.person_id.label("person_id"), func.count(Invitation.id).label("turns"))
        .join(Event, Event.id == Invitation.event_id)
        .where(Event.series_id.in_(series_ids), Invitation.cancelled_at.is_(None))
        .group_by(Invitation.person_id)
        .subquery()
    )
    holders = session.execute(
        select(Person, per_person.c.turns).join(per_person, per_person.c.person_id == Person.id).where(*_eligible(today))
    ).all()
    count = session.scalar(select(func.count(Person.id)).where(*_eligible(today)))
    had = sorted(((person, turns) for person, turns in holders), key=lambda row: (row[0].name, row[0].id))
    fewest = 0 if count > len(had) else min((turns for _, turns in had), default=0)
    by_name = (Person.name, Person.id)
    due = (
        select(Person)
        .outerjoin(per_person, per_person.c.person_id == Person.id)
        .where(*_eligible(today), func.coalesce(per_person.c.turns, 0) == fewest)
    )
    ever = select(Invitation.id).where(Invitation.person_id == Person.id, Invitation.cancelled_at.is_(None)).exists()
    never = select(Person).where(*_eligible(today), ~ever)
    ever_count = session.scalar(
        select(func.count(func.distinct(Invitation.person_id)))
        .join(Person, Person.id == Invitation.person_id)
        .where(*_eligible(today), Invitation.cancelled_at.is_(None))
    )
    return Turns(
        eligible=count,
        had_turn=len(had),
        had_turn_people=[person for person, _ in had[:SHOWN]],
        due=list(session.scalars(due.order_by(*by_name).limit(SHOWN))),
        due_count=count - len(had) if fewest == 0 else sum(1 for _, turns in had if turns == fewest),
        never_invited=list(session.scalars(never.order_by(*by_name).limit(SHOWN))),
        never_count=count - ever_count,
    )
