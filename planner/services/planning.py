"""Proposing invitees: the balanced selection over eligible people, and manual changes to it."""

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..balance import Candidate
from ..balance import select as balanced_select
from ..models import Event, EventStatus, Invitation, Person, ProposalEntry


class PlanningError(Exception):
    """A proposal change that cannot be made."""


@dataclass(frozen=True)
class History:
    """A person's invitations inside the look-back window."""

    recent_invites: int
    last_invited: date | None


def eligible_people(session: Session, day: date) -> list[Person]:
    """Return the people who can be invited to an event on day: active, not opted out, not on leave."""
    query = select(Person).where(
        Person.is_active.is_(True),
        Person.is_opted_out.is_(False),
        or_(Person.on_leave_until.is_(None), Person.on_leave_until < day),
    )
    return list(session.scalars(query.order_by(Person.id)))


def invitation_history(session: Session, now: datetime, lookback_days: int) -> dict[int, History]:
    """Return each invited person's recent invitation count and last invitation date."""
    since = now - timedelta(days=lookback_days)
    recent = dict(
        session.execute(
            select(Invitation.person_id, func.count(Invitation.id))
            .where(Invitation.created_at >= since)
            .group_by(Invitation.person_id)
        ).all()
    )
    last = session.execute(select(Invitation.person_id, func.max(Invitation.created_at)).group_by(Invitation.person_id))
    return {
        person_id: History(recent.get(person_id, 0), _as_date(latest))
        for person_id, latest in last.all()
    }


def _as_date(value) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else datetime.fromisoformat(str(value)).date()


def reason(history: History | None, today: date, *, is_must: bool = False) -> str:
    """Explain in a few words why a person is in the proposal."""
    if is_must:
        return "must attend"
    if history is None or history.last_invited is None:
        return "never invited"
    return f"last invited {ago(today, history.last_invited)}"


def ago(today: date, then: date) -> str:
    """Say how long ago a date was, in days, weeks or months."""
    days = (today - then).days
    if days < 14:
        return "today" if days <= 0 else f"{days} day{'s' if days > 1 else ''} ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    return f"{days // 30} months ago"


def propose(
    session: Session, event: Event, now: datetime, *, lookback_days: int, seed: int = 0, must: tuple[int, ...] = ()
) -> list[ProposalEntry]:
    """Replace the event's proposal with a balanced, rotation-fair selection of eligible people."""
    _require_draft(event)
    people = eligible_people(session, event.starts_at.date())
    history = invitation_history(session, now, lookback_days)
    candidates = [_candidate(person, history.get(person.id)) for person in people]
    chosen = balanced_select(candidates, event.capacity, must=must, seed=seed)
    by_id = {person.id: person for person in people}
    event.proposals.clear()
    session.flush()
    today = now.date()
    for person_id in chosen:
        is_must = person_id in must
        entry = ProposalEntry(person=by_id[person_id], is_must=is_must, reason=reason(history.get(person_id), today, is_must=is_must))
        event.proposals.append(entry)
    session.flush()
    return list(event.proposals)


def _candidate(person: Person, history: History | None) -> Candidate:
    return Candidate(
        id=person.id,
        department=person.department,
        level=person.level,
        recent_invites=history.recent_invites if history else 0,
        last_invited=history.last_invited if history else None,
    )


def add_person(session: Session, event: Event, person: Person, now: datetime, *, lookback_days: int) -> ProposalEntry:
    """Add a person to the proposal by hand."""
    _require_draft(event)
    if any(entry.person_id == person.id for entry in event.proposals):
        raise PlanningError(f"{person.name} is already in the proposal.")
    if not person.is_active:
        raise PlanningError(f"{person.name} is inactive.")
    history = invitation_history(session, now, lookback_days).get(person.id)
    entry = ProposalEntry(person=person, reason=f"added by hand; {reason(history, now.date())}")
    event.proposals.append(entry)
    session.flush()
    return entry


def remove_person(session: Session, event: Event, person_id: int) -> None:
    """Take a person out of the proposal."""
    _require_draft(event)
    for entry in event.proposals:
        if entry.person_id == person_id:
            event.proposals.remove(entry)
            session.flush()
            return
    raise PlanningError("That person is not in the proposal.")


def _require_draft(event: Event) -> None:
    if event.status != EventStatus.DRAFT:
        raise PlanningError("The invitations have been sent; the proposal can no longer change.")


def balance_grid(people: list[Person]) -> tuple[list[str], list[int], dict[tuple[str, int], int]]:
    """Return the departments, levels and department x level counts of a group of people."""
    counts = Counter((person.department, person.level) for person in people)
    departments = sorted({department for department, _ in counts})
    levels = sorted({level for _, level in counts})
    return departments, levels, dict(counts)
