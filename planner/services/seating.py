"""Seating plans: seat an event's attendees at mixed tables, adjust, publish, and remember who met.

An event has at most one unpublished plan (making a new one replaces it) and at most one
published plan (publishing replaces the previous one). Attendees see their table on the RSVP
page only once a plan is published. Who met is recorded by an explicit organiser action,
available once the event has started, from the published plan; recording again replaces the
event's earlier record, so it is idempotent and follows later corrections.
"""

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from itertools import combinations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session, selectinload

from .. import jobs, mixing, tables
from ..errors import PlannerError
from ..models import (
    Answer,
    Event,
    EventStatus,
    Invitation,
    Job,
    PairMeeting,
    Person,
    Seat,
    SeatingPlan,
)
from .events import event_day

RECOVERY_DAYS = 182
MODES = ("tables", "pairs")
PLAN_JOB = "seating.plan"


class SeatingError(PlannerError):
    """A seating plan that cannot be made or changed as asked."""


@dataclass(frozen=True)
class SeatingSettings:
    """How to seat people: tables of min..max or of real sizes, or coffee-roulette pairs; what mixing is worth."""

    mode: str = "tables"
    min_size: int = 6
    max_size: int = 8
    #: real table capacities; when given they replace min_size..max_size
    sizes: tuple[int, ...] | None = None
    w_department: float = 1.0
    w_level: float = 0.5
    w_new: float = 1.0
    include_maybe: bool = False

    @classmethod
    def from_json(cls, text: str) -> "SeatingSettings":
        """Return the settings stored in a plan's JSON text (unknown keys ignored)."""
        stored = json.loads(text or "{}")
        known = {key: stored[key] for key in cls.__dataclass_fields__ if key in stored}
        if known.get("sizes") is not None:
            known["sizes"] = tuple(known["sizes"])
        return cls(**known)


@dataclass(frozen=True)
class TableView:
    """One table of a plan as the organiser sees it."""

    number: int
    people: list[Person]
    score: mixing.TableScore | None
    problem: str | None


@dataclass(frozen=True)
class PlanSummary:
    """A plan's tables, its overall mixing score, and what needs the organiser's attention."""

    plan: SeatingPlan
    settings: SeatingSettings
    tables: list[TableView]
    overall: mixing.TableScore
    warnings: list[str]


@dataclass(frozen=True)
class PlanOverview:
    """A one-line description of an event's newest plan, for the event page."""

    groups: int
    seated: int
    word: str
    is_published: bool


@dataclass(frozen=True)
class YourTable:
    """What an attendee sees on the RSVP page: their table number and tablemates' names."""

    label: str
    number: int
    tablemates: list[str]


def attendees(session: Session, event: Event, include_maybe: bool = False) -> list[Person]:
    """Return the people coming to an event (answered yes, or maybe when asked; not un-invited), by id."""
    answers = [Answer.YES, Answer.MAYBE] if include_maybe else [Answer.YES]
    query = (
        select(Person)
        .join(Invitation, Invitation.person_id == Person.id)
        .where(Invitation.event_id == event.id, Invitation.answer.in_(answers), Invitation.cancelled_at.is_(None))
        .order_by(Person.id)
    )
    return list(session.scalars(query))


def meetings_before(session: Session, event: Event, person_ids: list[int]) -> dict[frozenset, date]:
    """Return when each pair of these people last met up to the event's date, this event's own record aside."""
    if not person_ids:
        return {}
    query = (
        select(PairMeeting.person_a_id, PairMeeting.person_b_id, func.max(PairMeeting.met_on))
        .where(
            PairMeeting.event_id != event.id,
            PairMeeting.met_on <= event_day(event),
            PairMeeting.person_a_id.in_(person_ids),
            PairMeeting.person_b_id.in_(person_ids),
        )
        .group_by(PairMeeting.person_a_id, PairMeeting.person_b_id)
    )
    return {frozenset((a, b)): met_on for a, b, met_on in session.execute(query)}


def size_limits(n: int, settings: SeatingSettings) -> list[tuple[int, int]]:
    """Return the (min, max) people per table the organiser asked for; raise SeatingError when n cannot fit."""
    if n == 0:
        raise SeatingError("Nobody is coming yet, so there is nobody to seat.")
    try:
        if settings.mode == "pairs":
            return mixing.pair_bounds(n)
        return mixing.table_bounds(n, settings.sizes, settings.min_size, settings.max_size)
    except ValueError as error:
        raise SeatingError(f"{_sentence(error)} Change the table sizes and try again.") from None


def search_bounds(n: int, settings: SeatingSettings, limits: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the bounds given to the search: real tables are filled evenly (in proportion to their size).

    With limits (0, capacity) the sum of pair weights grows with table size, so the search would
    fill the first tables and leave others nearly empty; a floor of n * capacity / total seats avoids that.
    """
    if settings.sizes is None:
        return limits
    total = sum(upper for _, upper in limits)
    return [(min(upper, n * upper // total), upper) for _, upper in limits]


def seating_refusal(event: Event) -> str | None:
    """Say why an event takes no seating action (a draft, or a cancelled event), or None when it does."""
    if event.status == EventStatus.CANCELLED:
        return "This event is cancelled: it has no seating plan."
    if event.status != EventStatus.SENT:
        return "Seating plans are made for events whose invitations have gone out."
    return None


def require_seatable(event: Event) -> None:
    """Raise SeatingError when the event takes no seating action."""
    problem = seating_refusal(event)
    if problem:
        raise SeatingError(problem)


def make_plan(session: Session, event: Event, settings: SeatingSettings, seed: int, seconds: float = 1.5) -> SeatingPlan:
    """Seat the attendees for the most mixing and store the plan, replacing the event's unpublished one."""
    require_seatable(event)
    if settings.mode not in MODES:
        raise SeatingError("Choose tables or coffee-roulette pairs.")
    people = attendees(session, event, settings.include_maybe)
    limits = size_limits(len(people), settings)
    guests = [_guest(person) for person in people]
    met_on = meetings_before(session, event, [person.id for person in people])
    weights = mixing.pair_weights(
        guests,
        met_on,
        event_day(event),
        w_department=settings.w_department,
        w_level=settings.w_level,
        w_new=settings.w_new,
        recovery_days=RECOVERY_DAYS,
    )
    try:
        groups = tables.partition(
            _break_ties(weights, seed), search_bounds(len(people), settings, limits), seconds=seconds, seed=seed
        )
    except ValueError as error:
        raise SeatingError(f"{_sentence(error)} Change the table sizes and try again.") from None
    for old in session.scalars(select(SeatingPlan).where(SeatingPlan.event_id == event.id, SeatingPlan.published_at.is_(None))):
        session.delete(old)
    stored = {**asdict(settings), "limits": limits, "recovery_days": RECOVERY_DAYS}
    plan = SeatingPlan(
        event_id=event.id,
        seed=seed,
        settings=json.dumps(stored),
        seats=[Seat(person=person, table_index=int(group)) for person, group in zip(people, groups, strict=True)],
    )
    session.add(plan)
    session.flush()
    return plan


def check_plan(session: Session, event: Event, settings: SeatingSettings) -> int:
    """Raise SeatingError when a plan cannot be made with these settings (quick checks, no search); return the head count."""
    require_seatable(event)
    if settings.mode not in MODES:
        raise SeatingError("Choose tables or coffee-roulette pairs.")
    answers = [Answer.YES, Answer.MAYBE] if settings.include_maybe else [Answer.YES]
    count = session.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.event_id == event.id, Invitation.answer.in_(answers), Invitation.cancelled_at.is_(None)
        )
    )
    size_limits(count, settings)
    return count


def queue_plan(session: Session, event: Event, settings: SeatingSettings, seed: int, seconds: float = 1.5) -> Job:
    """Check the settings, then queue the plan search for a worker (the caller commits); raise SeatingError."""
    check_plan(session, event, settings)
    payload = {"event_id": event.id, "settings": asdict(settings), "seed": seed, "seconds": seconds}
    return jobs.enqueue(session, PLAN_JOB, payload, event_id=event.id)


def run_plan_job(session: Session, payload: dict) -> dict:
    """Make the plan a queued job asks for (the job runner commits); return its id, head count and seed."""
    event = session.get(Event, payload["event_id"])
    if event is None:
        raise SeatingError("The event no longer exists.")
    settings = SeatingSettings.from_json(json.dumps(payload["settings"]))
    plan = make_plan(session, event, settings, payload["seed"], payload["seconds"])
    return {"plan_id": plan.id, "seated": len(plan.seats), "seed": plan.seed}


def plan_job(session: Session, event: Event) -> Job | None:
    """Return the event's newest plan search (queued, running or finished), or None."""
    query = select(Job).where(Job.kind == PLAN_JOB, Job.event_id == event.id).order_by(Job.id.desc()).limit(1)
    return session.scalar(query)


def current_plan(session: Session, event: Event) -> SeatingPlan | None:
    """Return the event's newest plan (its unpublished one if there is one), or None."""
    query = select(SeatingPlan).where(SeatingPlan.event_id == event.id).order_by(SeatingPlan.id.desc()).limit(1)
    return session.scalar(query.options(_with_seats()))


def plan_overview(session: Session, event: Event) -> PlanOverview | None:
    """Return how many tables and people the event's newest plan has and whether it is published, or None."""
    plan = session.scalar(select(SeatingPlan).where(SeatingPlan.event_id == event.id).order_by(SeatingPlan.id.desc()).limit(1))
    if plan is None:
        return None
    seated = session.scalar(select(func.count(Seat.id)).where(Seat.plan_id == plan.id))
    word = table_word(SeatingSettings.from_json(plan.settings))
    return PlanOverview(len(limits_of(plan)), seated, word, plan.published_at is not None)


def published_plan(session: Session, event: Event) -> SeatingPlan | None:
    """Return the plan attendees see, or None."""
    query = select(SeatingPlan).where(SeatingPlan.event_id == event.id, SeatingPlan.published_at.is_not(None))
    return session.scalar(query.options(_with_seats()))


def _with_seats():
    """Load a plan's seats and their people with it (two more statements, whatever the number of seats)."""
    return selectinload(SeatingPlan.seats).joinedload(Seat.person)


def limits_of(plan: SeatingPlan) -> list[tuple[int, int]]:
    """Return the (min, max) people per table the plan was made with."""
    return [tuple(pair) for pair in json.loads(plan.settings or "{}").get("limits", [])]


def move_person(plan: SeatingPlan, person_id: int, table_index: int) -> list[str]:
    """Move one person to another table (0-based); return warnings for tables now outside their sizes."""
    require_seatable(object_session(plan).get(Event, plan.event_id))
    seat = next((seat for seat in plan.seats if seat.person_id == person_id), None)
    if seat is None:
        raise SeatingError("That person is not seated in this plan.")
    table_count = len(limits_of(plan))
    if not 0 <= table_index < table_count:
        raise SeatingError(f"Choose a table number from 1 to {table_count}.")
    seat.table_index = table_index
    object_session(plan).flush()
    return [problem for problem in _problems(plan) if problem]


def publish_plan(plan: SeatingPlan, now: datetime) -> None:
    """Show this plan to attendees, replacing the plan published before it."""
    require_seatable(object_session(plan).get(Event, plan.event_id))
    if plan.published_at is not None:
        raise SeatingError("This plan is already published.")
    session = object_session(plan)
    earlier = select(SeatingPlan).where(
        SeatingPlan.event_id == plan.event_id, SeatingPlan.id != plan.id, SeatingPlan.published_at.is_not(None)
    )
    for old in session.scalars(earlier):
        session.delete(old)
    plan.published_at = now
    session.flush()


def has_started(event: Event, now: datetime) -> bool:
    """Tell whether the event has begun, so who met can be recorded."""
    return now >= event.starts_at


def record_meetings(session: Session, event: Event, plan: SeatingPlan, met_on: date, *, now: datetime) -> int:
    """Make the event's pairing history exactly the pairs at each table of its published plan; return the pair count."""
    require_seatable(event)
    if plan.event_id != event.id or plan.published_at is None:
        raise SeatingError("Publish the plan first: who met is recorded from the published plan.")
    if not has_started(event, now):
        raise SeatingError("Who met can be recorded once the event has started.")
    by_table: dict[int, list[int]] = {}
    for seat in plan.seats:
        by_table.setdefault(seat.table_index, []).append(seat.person_id)
    pairs = {tuple(sorted(pair)) for members in by_table.values() for pair in combinations(members, 2)}
    recorded = {}
    for row in session.scalars(select(PairMeeting).where(PairMeeting.event_id == event.id)):
        key = (row.person_a_id, row.person_b_id)
        if key in pairs and key not in recorded:
            recorded[key] = row
            row.met_on = met_on
        else:
            session.delete(row)
    for a, b in sorted(pairs - recorded.keys()):
        session.add(PairMeeting(person_a_id=a, person_b_id=b, event_id=event.id, met_on=met_on))
    session.flush()
    return len(pairs)


def plan_summary(plan: SeatingPlan) -> PlanSummary:
    """Return each table's people and mixing score, the plan's overall score, and warnings."""
    session = object_session(plan)
    event = session.get(Event, plan.event_id)
    settings = SeatingSettings.from_json(plan.settings)
    seats = sorted(plan.seats, key=lambda seat: (seat.table_index, seat.person.name.casefold(), seat.person_id))
    people = [seat.person for seat in seats]
    groups = [seat.table_index for seat in seats]
    met_on = meetings_before(session, event, [person.id for person in people])
    scores, overall = mixing.mixing_score(groups, [_guest(p) for p in people], met_on, event_day(event), recovery_days=RECOVERY_DAYS)
    score_of = dict(zip(sorted(set(groups)), scores, strict=True))
    problems = _problems(plan)
    table_views = [
        TableView(
            number=index + 1,
            people=[seat.person for seat in seats if seat.table_index == index],
            score=score_of.get(index),
            problem=problems[index],
        )
        for index in range(len(problems))
    ]
    coming = {person.id: person for person in attendees(session, event, settings.include_maybe)}
    seated = set(seat.person_id for seat in seats)
    warnings = [problem for problem in problems if problem]
    missing = sorted(person.name for person_id, person in coming.items() if person_id not in seated)
    gone = sorted(seat.person.name for seat in seats if seat.person_id not in coming)
    if missing:
        warnings.append(f"Not seated yet (answered after this plan was made): {', '.join(missing)}. Make the plan again to seat them.")
    if gone:
        warnings.append(f"Seated but no longer coming: {', '.join(gone)}.")
    return PlanSummary(plan, settings, table_views, overall, warnings)


def your_table(session: Session, invitation: Invitation) -> YourTable | None:
    """Return the invitee's table in the event's published plan, with the names of tablemates still coming, or None.

    This is the one place an RSVP page names other invitees: only the people at the same table,
    who are about to sit together anyway, and only their names. Who has since declined or been
    un-invited is no tablemate any more (nor is the invitee, then, seated).
    """
    if invitation.cancelled_at is not None or invitation.event.status != EventStatus.SENT:
        return None
    plan = published_plan(session, invitation.event)
    if plan is None:
        return None
    settings = SeatingSettings.from_json(plan.settings)
    coming = {person.id for person in attendees(session, invitation.event, settings.include_maybe)}
    mine = next((seat for seat in plan.seats if seat.person_id == invitation.person_id), None)
    if mine is None or mine.person_id not in coming:
        return None
    names = sorted(
        seat.person.name
        for seat in plan.seats
        if seat.table_index == mine.table_index and seat is not mine and seat.person_id in coming
    )
    return YourTable(table_word(settings), mine.table_index + 1, names)


def table_word(settings: SeatingSettings) -> str:
    """Return what one group of the plan is called: a table, or a coffee-roulette group."""
    return "group" if settings.mode == "pairs" else "table"


def _problems(plan: SeatingPlan) -> list[str | None]:
    """Return, per table, a sentence when its head count is outside the sizes asked for."""
    word = table_word(SeatingSettings.from_json(plan.settings)).capitalize()
    counts = [0] * len(limits_of(plan))
    for seat in plan.seats:
        counts[seat.table_index] += 1
    problems = []
    for number, ((lower, upper), count) in enumerate(zip(limits_of(plan), counts, strict=True), start=1):
        if count > upper:
            problems.append(f"{word} {number} has {count} people, more than the {upper} it takes.")
        elif count < lower:
            problems.append(f"{word} {number} has {count} people, fewer than the {lower} asked for.")
        else:
            problems.append(None)
    return problems


def _break_ties(weights: np.ndarray, seed: int) -> np.ndarray:
    """Add a seeded, negligible symmetric jitter so another seed picks another of several equally good plans.

    Small events are solved exactly, and an exact solver returns the same optimum for every seed.
    """
    jitter = np.random.default_rng(seed).uniform(0.0, 1e-6, size=weights.shape)
    return weights + np.triu(jitter, 1) + np.triu(jitter, 1).T


def _guest(person: Person) -> mixing.Person:
    return mixing.Person(person.id, person.department, person.level)


def _sentence(error: Exception) -> str:
    text = str(error)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
