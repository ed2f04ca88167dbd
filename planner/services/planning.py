"""Proposing invitees: fair turns (planner.rounds) or a balanced selection over eligible people, and manual changes.

The pool of an event is everyone eligible on the event's day (active, not opted out, not on
leave) minus the people excluded from this event by hand, plus whoever is in the proposal
already (so that the deviation of any proposal is defined).  `must` entries survive a new
proposal; the other entries are chosen again.  "Remove" takes a person out (a new proposal may
bring them back); "exclude" also records an EventExclusion, so no new proposal brings them back.
"""

import gc
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import ColumnElement, DateTime, Row, and_, case, delete, func, insert, or_, select, type_coerce
from sqlalchemy.orm import Session

from ..balance import (Candidate, Columns, best_cell_deviation, cell_deviation, cell_targets, id_order, replacement_columns,
                       select_columns)
from ..errors import PlannerError
from ..models import Event, EventExclusion, EventStatus, Invitation, PairMeeting, Person, PlanningMode, ProposalEntry
from ..rounds import NEWCOMER, NEWCOMER_DAYS, YEAR_DAYS, plan_columns, turn_counts
from ..text import plural
from .eligible import eligible, eligible_on
from .events import event_day

REASON_LENGTH = 200


class PlanningError(PlannerError):
    """A proposal change that cannot be made."""


@contextmanager
def balance_refusals() -> Iterator[None]:
    """Turn the ValueError of planner.balance (input it cannot balance) into a PlanningError."""
    try:
        yield
    except ValueError as error:
        raise PlanningError(f"The proposal cannot be balanced: {error}.") from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a pool is built and solved (tens of thousands of acyclic rows).

    Left on, the rows of a large directory's invitation history and meetings (a History, a date list or a pair per
    person) set off full collections of the whole heap, which cost more than reading them; nothing built here holds a
    cycle, so nothing waits on the collector.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class History:
    """A person's invitations: how many inside the look-back window, and the latest ever."""

    recent_invites: int
    last_invited: date | None


@dataclass(frozen=True)
class Balance:
    """How balanced a proposal is: targets, counts and deviation over the event's pool."""

    size: int
    deviation: float
    best: float
    department_targets: dict[str, float]
    level_targets: dict[int, float]
    department_counts: Counter
    level_counts: Counter
    pool_cells: Counter
    chosen_cells: Counter

    @property
    def is_optimal(self) -> bool:
        """Tell whether no selection of the same size is better balanced."""
        return self.deviation <= self.best + 1e-9

    def summary(self) -> str:
        """Say the deviation now and the best possible for this many people."""
        return f"Deviation now {number(self.deviation)} (best possible for {self.size} people: {number(self.best)})."


def number(value: float) -> str:
    """Show a deviation with at most two decimals and no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


MEMBER_COLUMNS = (Person.id, Person.department, Person.level)


def members(session: Session, person_ids: Collection[int]) -> list[Row]:
    """Return the planner's columns of these people by id, in one statement."""
    if not person_ids:
        return []
    return list(session.execute(select(*MEMBER_COLUMNS).where(Person.id.in_(list(person_ids))).order_by(Person.id)))


def unavailability(person: Person, day: date) -> str | None:
    """Say why a person cannot be invited to an event on day, or None when they can."""
    if not person.is_active:
        return f"{person.name} is inactive."
    if person.is_opted_out:
        return f"{person.name} has opted out of invitations."
    if person.on_leave_until is not None and person.on_leave_until >= day:
        return f"{person.name} is on leave until {person.on_leave_until.isoformat()}."
    return None


def invitation_history(
    session: Session, now: datetime, lookback_days: int, *, person_id: int | None = None
) -> dict[int, History]:
    """Return each invited person's (or one person's) invitation count inside the window and last invitation date.

    Invitations the organiser cancelled (un-invited) do not count.
    """
    if lookback_days < 1:
        raise PlanningError("The look-back window must be at least one day.")
    since = now - timedelta(days=lookback_days)
    sent = Invitation.cancelled_at.is_(None)
    if person_id is not None:
        sent = sent & (Invitation.person_id == person_id)
    latest = _plain(func.max(Invitation.created_at))
    rows = session.execute(
        select(Invitation.person_id, func.count(case((Invitation.created_at >= since, Invitation.id))), latest)
        .where(sent)
        .group_by(Invitation.person_id)
    )
    return {person_id: History(recent, _as_date(last)) for person_id, recent, last in rows}


def _plain(stamp: ColumnElement) -> ColumnElement:
    """A timestamp read without UTCDateTime's conversion of every row: _as_date takes its day in UTC itself."""
    return type_coerce(stamp, DateTime(timezone=True))


def _as_date(value) -> date | None:
    """The UTC day of a timestamp read by _plain: naive on SQLite (stored in UTC), aware in any zone on PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return datetime.fromisoformat(str(value)).date()


def reason(history: History | None, today: date, *, is_must: bool = False) -> str:
    """Explain in a few words why a person is in the proposal."""
    if is_must:
        return "must"
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
    months = days // 30
    return f"{months} months ago" if months < 24 else f"{days // 365} years ago"


def excluded_ids(session: Session, event: Event) -> set[int]:
    """Return the ids of the people excluded from this event by hand."""
    return set(session.scalars(select(EventExclusion.person_id).where(EventExclusion.event_id == event.id)))


def excluded_people(session: Session, event: Event) -> list[Person]:
    """Return the people excluded from this event by hand, by name."""
    query = select(Person).join(EventExclusion, EventExclusion.person_id == Person.id)
    return list(session.scalars(query.where(EventExclusion.event_id == event.id).order_by(Person.name)))


def proposal_pool(session: Session, event: Event, now: datetime, kept: Collection[int], *, lookback_days: int
                  ) -> tuple[Columns, dict[int, History]]:
    """The event's pool as columns (eligible minus excluded, plus the kept people), and its people's invitation history.

    The eligible come as arrays (planner.services.eligible, read again only when the directory changed); the kept who
    are not eligible are read by id, and the solvers read the arrays directly.
    """
    history = invitation_history(session, now, lookback_days)
    excluded = excluded_ids(session, event)
    base = eligible(session, event_day(event))
    ids, code, level, departments = base.ids, base.department, base.level, base.departments
    wanted = np.array(sorted(kept), np.int64)
    outside = wanted[~np.isin(wanted, ids)].tolist() if len(wanted) else []
    if outside:  # kept people who are not eligible join the arrays, in id order
        rows = members(session, outside)
        departments = tuple(sorted({*departments, *(department for _, department, _ in rows)}))
        recode = np.array([departments.index(department) for department in base.departments], np.int64)
        ids = np.concatenate([ids, np.array([person_id for person_id, _, _ in rows], np.int64)])
        code = np.concatenate([recode[code], np.array([departments.index(department) for _, department, _ in rows], np.int64)])
        level = np.concatenate([level, np.array([row_level for _, _, row_level in rows], np.int64)])
        order = id_order(ids)
        ids, code, level = ids[order], code[order], level[order]
    dropped = sorted(excluded - set(kept))
    if dropped:  # each array is gathered once more only when someone is left out
        keep = ~np.isin(ids, dropped)
        ids, code, level = ids[keep], code[keep], level[keep]
    pool = Columns(ids, code, departments, level, np.zeros(len(ids), np.int64), np.zeros(len(ids), np.int64))
    at = pool.positions(list(history))
    found, pasts = at >= 0, list(history.values())
    pool.recent[at[found]] = np.fromiter((past.recent_invites for past in pasts), np.int64, len(pasts))[found]
    pool.last[at[found]] = np.fromiter((past.last_invited.toordinal() if past.last_invited else 0 for past in pasts), np.int64,
                                       len(pasts))[found]
    return pool, history


def must_ids(event: Event) -> list[int]:
    """Return the ids of the proposal's must entries."""
    return [entry.person_id for entry in event.proposals if entry.is_must]


def propose(session: Session, event: Event, now: datetime, *, lookback_days: int, seed: int = 0) -> int:
    """Replace the event's proposal by its planning mode (fair turns by default, or balanced seats); must entries stay.

    Return how many people the proposal now holds. Its entries are not loaded as objects, neither the old ones (only the
    must people's ids are read, so the delete has none to synchronise) nor the new ones (event.proposals is expired).
    """
    _require_draft(event)
    must = list(session.scalars(
        select(ProposalEntry.person_id).where(ProposalEntry.event_id == event.id, ProposalEntry.is_must.is_(True))
        .order_by(ProposalEntry.id)
    ))
    if len(must) > event.capacity:
        raise PlanningError(f"{len(must)} people are marked must but the event has {event.capacity} seats.")
    with gc_paused(), balance_refusals():
        chosen, reasons = _choose(session, event, now, must, lookback_days=lookback_days, seed=seed)
    kept = set(must)
    session.flush()
    session.execute(delete(ProposalEntry).where(ProposalEntry.event_id == event.id, ProposalEntry.is_must.is_(False)))
    rows = [
        {"event_id": event.id, "person_id": person_id, "reason": reasons[person_id][:REASON_LENGTH], "is_must": False}
        for person_id in chosen
        if person_id not in kept
    ]
    if rows:  # into the table: the ORM's bulk insert would only check each row against the mapper first
        session.execute(insert(ProposalEntry.__table__), rows)
    session.expire(event, ["proposals"])
    return len(must) + len(rows)


def _choose(session: Session, event: Event, now: datetime, must: list[int], *, lookback_days: int, seed: int
            ) -> tuple[list[int], dict[int, str]]:
    """The proposal's people and why, by the event's planning mode.

    The pool and its history live only inside this call, so that they are freed while the collector is still paused:
    left alive when it resumes, tens of thousands of young history rows would make the next collection walk them all.
    """
    today = now.date()
    pool, history = proposal_pool(session, event, now, must, lookback_days=lookback_days)
    if event.planning_mode == PlanningMode.FAIR:
        turns = turn_history(session, pool, now, event)
        chosen = plan_columns(pool, event.capacity, today=today, invited_on=turns.invited_on,
                              met_on=turns.met_on, joined_on=turns.joined_on, must=must, seed=seed)
        wanted = [*chosen, *history]
        found = pool.positions(wanted)
        departments = {person_id: pool.departments[pool.department[at]] for person_id, at in zip(wanted, found.tolist()) if at >= 0}
        return chosen, fair_reasons(departments, history, turns, today, chosen)
    chosen = select_columns(pool, event.capacity, must=must, seed=seed, mode=event.planning_mode)
    return chosen, {person_id: reason(history.get(person_id), today) for person_id in chosen}


#: what each way of choosing does, in one sentence for the proposal page
MODE_SENTENCES = {
    PlanningMode.FAIR: "Fair turns: nobody is invited again while a colleague has had fewer invitations this year "
                       "(newcomers first); among those whose turn it is, the most mixed group of people who have met least.",
    PlanningMode.EVEN: "Equal seats per department and level: each gets the same share of seats, as far as it has people.",
    PlanningMode.PROPORTIONAL: "In proportion to department size: each department and level gets seats in proportion "
                               "to its number of people.",
}


def set_mode(session: Session, event: Event, mode: PlanningMode) -> None:
    """Choose how a draft's invitees are proposed (fair turns, equal seats, or in proportion)."""
    _require_draft(event)
    event.planning_mode = mode
    session.flush()


@dataclass(frozen=True)
class TurnHistory:
    """What fair turns look at: each person's invitation dates of the past year, when pairs last met, start dates."""

    invited_on: dict[int, list[date]]
    met_on: dict[frozenset, date]
    joined_on: dict[int, date]


def turn_history(session: Session, pool: Columns, now: datetime, event: Event) -> TurnHistory:
    """Read the past year's invitations and meetings of the pool's people (four queries, columns only).

    A place in the proposal of another draft still to come at `now` (a series round planned at the same time) counts
    as a turn taken today, so that two rounds planned together do not propose the same people.
    """
    today = now.date()
    since = today - timedelta(days=YEAR_DAYS)
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    invited_on: dict[int, list[date]] = {}
    rows = session.execute(
        select(Invitation.person_id, _plain(Invitation.created_at))
        .where(Invitation.cancelled_at.is_(None), Invitation.created_at >= start)
    ).all()
    for person_id, created_at in _in_pool(pool, rows):
        invited_on.setdefault(person_id, []).append(_as_date(created_at))
    pending = session.execute(
        select(ProposalEntry.person_id)
        .join(Event, Event.id == ProposalEntry.event_id)
        .where(Event.status == EventStatus.DRAFT, Event.id != event.id, Event.starts_at > now)
    ).all()
    for (person_id,) in _in_pool(pool, pending):
        invited_on.setdefault(person_id, []).append(today)
    met = session.execute(
        select(PairMeeting.person_a_id, PairMeeting.person_b_id, func.max(PairMeeting.met_on))
        .where(PairMeeting.met_on > since)
        .group_by(PairMeeting.person_a_id, PairMeeting.person_b_id)
    ).all()
    met_on = {frozenset((a, b)): day for a, b, day in _in_pool(pool, _in_pool(pool, met), column=1)}
    # only a start date inside the newcomer window changes a turn (planner.rounds), so only those are read
    recent = session.execute(select(Person.id, Person.joined_on).where(Person.joined_on > today - timedelta(days=NEWCOMER_DAYS)))
    joined_on = dict(_in_pool(pool, recent.all()))
    return TurnHistory(invited_on, met_on, joined_on)


def _in_pool(pool: Columns, rows: list, column: int = 0) -> list:
    """The rows whose person id (in that column) is in the pool, found in bulk (no set of the pool's ids is built)."""
    found = pool.positions([row[column] for row in rows])
    return [row for row, at in zip(rows, found.tolist()) if at >= 0]


def fair_reasons(departments: Mapping[int, str], history: Mapping[int, History], turns: TurnHistory, today: date,
                 chosen: Collection[int]) -> dict[int, str]:
    """Say why each chosen pool member's turn has come: new, never invited, or how long ago and who went since.

    departments holds the department of the chosen and of every pool member with a history (no one else's).
    """
    people = [Candidate(person_id, departments[person_id], 0) for person_id in chosen]
    tiers = turn_counts(people, today=today, invited_on=turns.invited_on, joined_on=turns.joined_on)
    later_by_department: dict[str, list[date]] = {}
    for person_id, past in history.items():
        if person_id in departments and past.last_invited:
            later_by_department.setdefault(departments[person_id], []).append(past.last_invited)
    for days in later_by_department.values():
        days.sort()
    reasons = {}
    for person in people:
        past = history.get(person.id)
        if tiers[person.id] == NEWCOMER:
            reasons[person.id] = f"joined {ago(today, turns.joined_on[person.id])}, never invited"
        elif past is None or past.last_invited is None:
            reasons[person.id] = "never invited"
        else:
            days = later_by_department.get(person.department, [])
            later = len(days) - bisect_right(days, past.last_invited)
            text = f"due: last invited {ago(today, past.last_invited)}"
            if later:
                text += f"; {plural(later, 'colleague')} in {person.department} {'was' if later == 1 else 'were'} invited more recently"
            reasons[person.id] = text
    return reasons


def pool_cells(session: Session, event: Event) -> Counter:
    """Count the event's pool with its proposal (as proposal_pool keeps it) per (department, level).

    The eligible are counted on their arrays (planner.services.eligible); the few excluded or proposed people then add
    one (in the pool though not eligible), take one away (eligible but excluded) or nothing, in one statement.
    """
    day = event_day(event)
    eligible_now = eligible_on(day)
    excluded = select(EventExclusion.person_id).where(EventExclusion.event_id == event.id)
    proposed = select(ProposalEntry.person_id).where(ProposalEntry.event_id == event.id)
    in_pool = or_(and_(eligible_now, Person.id.not_in(excluded)), Person.id.in_(proposed))
    changed = select(Person.department, Person.level, case((in_pool, 1), else_=0) - case((eligible_now, 1), else_=0)).where(
        or_(Person.id.in_(excluded), Person.id.in_(proposed))
    )
    cells = eligible(session, day).cells()
    for department, level, count in session.execute(changed):
        cells[department, level] += count
    return +cells


def proposal_cells(session: Session, event: Event) -> tuple[Counter, Counter]:
    """Count the proposal, and its must entries, per (department, level): one statement."""
    query = (
        select(Person.department, Person.level, ProposalEntry.is_must, func.count(ProposalEntry.id))
        .join(ProposalEntry, ProposalEntry.person_id == Person.id)
        .where(ProposalEntry.event_id == event.id)
        .group_by(Person.department, Person.level, ProposalEntry.is_must)
    )
    chosen, must = Counter(), Counter()
    for department, level, is_must, count in session.execute(query):
        chosen[department, level] += count
        if is_must:
            must[department, level] += count
    return chosen, must


def proposal_balance(session: Session, event: Event) -> Balance:
    """Measure the current proposal against the targets of its pool, from head counts per cell (no person loaded)."""
    return cells_balance(pool_cells(session, event), *proposal_cells(session, event))


def cells_balance(pool: Counter, chosen: Counter, must: Counter) -> Balance:
    """Measure a proposal counted per cell (chosen, must among them) against the targets of its pool counted per cell."""
    size = sum(chosen.values())
    department_counts, level_counts = Counter(), Counter()
    for (department, level), count in chosen.items():
        department_counts[department] += count
        level_counts[level] += count
    with balance_refusals():
        department_targets, level_targets = cell_targets(pool, size)
        now_off = cell_deviation(pool, chosen)
        best = best_cell_deviation(pool, size, must)
    return Balance(
        size=size,
        deviation=now_off,
        best=best,
        department_targets=department_targets,
        level_targets=level_targets,
        department_counts=department_counts,
        level_counts=level_counts,
        pool_cells=pool,
        chosen_cells=chosen,
    )


def add_person(
    session: Session, event: Event, person: Person, now: datetime, *, lookback_days: int, is_must: bool = False
) -> ProposalEntry:
    """Add a person to the proposal by hand; this lifts an exclusion from this event."""
    _require_draft(event)
    if any(entry.person_id == person.id for entry in event.proposals):
        raise PlanningError(f"{person.name} is already in the proposal.")
    problem = unavailability(person, event_day(event))
    if problem:
        raise PlanningError(problem)
    _lift_exclusion(session, event, person.id)
    history = invitation_history(session, now, lookback_days, person_id=person.id).get(person.id)
    why = "must" if is_must else f"added by hand; {reason(history, now.date())}"
    entry = ProposalEntry(person=person, is_must=is_must, reason=why)
    event.proposals.append(entry)
    session.flush()
    return entry


def remove_person(session: Session, event: Event, person_id: int, *, exclude: bool = False) -> Person:
    """Take a person out of the proposal; with exclude, no new proposal brings them back."""
    _require_draft(event)
    entry = _entry(event, person_id)
    event.proposals.remove(entry)
    if exclude:
        session.add(EventExclusion(event_id=event.id, person_id=person_id))
    session.flush()
    return entry.person


@dataclass(frozen=True)
class Replaced:
    """A replacement made: the newcomer's proposal entry, and the proposal's balance now (as proposal_balance measures it)."""

    entry: ProposalEntry
    balance: Balance


def replace_person(session: Session, event: Event, person_id: int, now: datetime, *, lookback_days: int) -> Replaced:
    """Swap a person for the alternative that keeps the deviation least, from the same cell when possible."""
    _require_draft(event)
    entry = _entry(event, person_id)
    gone = entry.person
    if entry.is_must:
        raise PlanningError(f"{gone.name} is marked must; unmark them before replacing.")
    selected = [item.person_id for item in event.proposals]
    with gc_paused(), balance_refusals():
        newcomer, history, measured = _replacement(session, event, now, selected, gone, lookback_days=lookback_days)
    if newcomer is None:
        raise PlanningError(f"Nobody else is available to replace {gone.name}.")
    event.proposals.remove(entry)
    session.flush()
    why = f"{reason(history, now.date())}; in place of {gone.name}"
    added = ProposalEntry(person_id=newcomer, reason=why[:REASON_LENGTH])
    event.proposals.append(added)
    session.flush()
    return Replaced(added, measured)


def _replacement(session: Session, event: Event, now: datetime, selected: list[int], gone: Person, *, lookback_days: int
                 ) -> tuple[int | None, History | None, Balance | None]:
    """Who replaces gone, their invitation history and the balance after the swap, counted on the pool (no second scan).

    The pool is freed before the collector resumes (_choose).
    """
    pool, history = proposal_pool(session, event, now, selected, lookback_days=lookback_days)
    must = must_ids(event)
    newcomer = replacement_columns(pool, selected, gone.id, must=must, seed=event.id)
    if newcomer is None:
        return None, None, None
    cells = pool.cells()
    # the pool held gone as proposed; it still does if they are eligible and not excluded (the newcomer was in it already)
    if unavailability(gone, event_day(event)) is not None or gone.id in excluded_ids(session, event):
        cells[gone.department, gone.level] -= 1
    chosen = [person for person in selected if person != gone.id] + [newcomer]
    return newcomer, history.get(newcomer), cells_balance(+cells, _cells_of(pool, chosen), _cells_of(pool, must))


def _cells_of(pool: Columns, ids: list[int]) -> Counter:
    return pool.take(pool.positions(ids)).cells()


def set_must(session: Session, event: Event, person_id: int, is_must: bool) -> ProposalEntry:
    """Mark or unmark a proposed person as must (kept by every new proposal)."""
    _require_draft(event)
    entry = _entry(event, person_id)
    if is_must and not entry.is_must and len(must_ids(event)) >= event.capacity:
        raise PlanningError(f"All {event.capacity} seats are already taken by must people.")
    entry.is_must = is_must
    entry.reason = "must" if is_must else "chosen by hand"
    session.flush()
    return entry


def allow_again(session: Session, event: Event, person_id: int) -> None:
    """Lift a person's exclusion from this event: new proposals may choose them again."""
    _require_draft(event)
    _lift_exclusion(session, event, person_id)
    session.flush()


def _lift_exclusion(session: Session, event: Event, person_id: int) -> None:
    session.execute(delete(EventExclusion).where(EventExclusion.event_id == event.id, EventExclusion.person_id == person_id))


def _entry(event: Event, person_id: int) -> ProposalEntry:
    for entry in event.proposals:
        if entry.person_id == person_id:
            return entry
    raise PlanningError("That person is not in the proposal.")


def _require_draft(event: Event) -> None:
    if event.status != EventStatus.DRAFT:
        raise PlanningError("The invitations have been sent; the proposal can no longer change.")
