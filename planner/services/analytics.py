"""Network health of a period: the "met" graph from the pair history, its figures through planner.network, trends.

Two people are tied when they met in the period: at one table, at a lunch for all, or as a
coffee-roulette pair (the PairMeeting rows recorded from attendance). The people counted are
the active staff; a month of the trends counts those who had joined by its end. Per-department
figures merge the departments under `min_group` people into one group; when that group is still
under `min_group` people, its figures are withheld.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..mixing import Person as Member
from ..models import Event, EventKind, EventStatus, FirstMeeting, Invitation, PairMeeting, Person, Series, SeriesStatus
from ..network import Health, health
from ..rounds import NEWCOMER_DAYS
from ..text import plural
from . import planning
from .events import event_day, local
from .locking import lock_event
from .ownership import EVERYTHING
from .planning import unavailability

#: the longest period the page accepts
MAX_DAYS = 3 * 366
#: bins of the invitations histogram: 0, 1, ... and "SPREAD_BINS or more"
SPREAD_BINS = 8
MONTHS = 12


@dataclass(frozen=True)
class Filters:
    """Which ties count: met from start to end (inclusive), at events of one kind or of one series or its earlier versions."""

    start: date
    end: date
    kind: EventKind | None = None
    series_id: int | None = None

    @property
    def args(self) -> dict[str, str]:
        """Return the filters as the page's query string values."""
        values = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.kind:
            values["kind"] = self.kind.value
        if self.series_id:
            values["series"] = str(self.series_id)
        return values


def parse_filters(
    args: Mapping[str, str], today: date, default_days: int, series_ids: Iterable[int]
) -> tuple[Filters, list[str]]:
    """Read the filters from a query string; a bad value falls back to its default and says why."""
    problems = []
    end = _day(args.get("end"), today, "end", problems)
    start = _day(args.get("start"), end - timedelta(days=default_days), "start", problems)
    if start > end:
        problems.append("The period starts after it ends; showing the default period.")
        start, end = today - timedelta(days=default_days), today
    elif (end - start).days > MAX_DAYS:
        problems.append(f"A period can be at most {MAX_DAYS} days; showing the last {MAX_DAYS} days of it.")
        start = end - timedelta(days=MAX_DAYS)
    kind_text = (args.get("kind") or "").strip()
    kind = None
    if kind_text:
        if kind_text in {item.value for item in EventKind}:
            kind = EventKind(kind_text)
        else:
            problems.append(f"Unknown event kind {kind_text[:40]!r}; showing every kind.")
    series_text = (args.get("series") or "").strip()
    series_id = None
    if series_text:
        if series_text.isdigit() and int(series_text) in set(series_ids):
            series_id = int(series_text)
        else:
            problems.append("That series does not exist; showing every series.")
    return Filters(start, end, kind, series_id), problems


def _day(text: str | None, default: date, name: str, problems: list[str]) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"The {name} date must look like 2026-01-31; showing the default.")
        return default


def series_chain(all_series: Sequence[Series], series_id: int) -> list[int]:
    """Return the ids of a series and of the earlier versions it continues, from a list of every series."""
    by_id = {item.id: item for item in all_series}
    chain, current = [], by_id.get(series_id)
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = by_id.get(current.previous_id)
    return chain


def _event_conditions(kind: EventKind | None, series_ids: Sequence[int] | None) -> list:
    conditions = []
    if kind is not None:
        conditions.append(Event.kind == kind)
    if series_ids is not None:
        conditions.append(Event.series_id.in_(series_ids))
    return conditions


def dated_ties(
    session: Session, start: date, end: date, *, kind: EventKind | None = None, series_ids: Sequence[int] | None = None
) -> list[tuple[int, int, date]]:
    """Return (a, b, met_on) for every meeting between start and end inclusive, at events that pass the filters."""
    query = (
        select(PairMeeting.person_a_id, PairMeeting.person_b_id, PairMeeting.met_on)
        .join(Event, Event.id == PairMeeting.event_id)
        .where(PairMeeting.met_on >= start, PairMeeting.met_on <= end, *_event_conditions(kind, series_ids))
    )
    return [(a, b, day) for a, b, day in session.execute(query)]


def period_ties(
    session: Session, start: date, end: date, *, kind: EventKind | None = None, series_ids: Sequence[int] | None = None
) -> set[tuple[int, int]]:
    """Return the pairs (smaller id first) who met between start and end inclusive, at events that pass the filters."""
    query = (
        select(PairMeeting.person_a_id, PairMeeting.person_b_id)
        .join(Event, Event.id == PairMeeting.event_id)
        .where(PairMeeting.met_on >= start, PairMeeting.met_on <= end, *_event_conditions(kind, series_ids))
        .distinct()
    )
    return {(min(a, b), max(a, b)) for a, b in session.execute(query)}


def reported_ties(
    session: Session, start: date, end: date, *, kind: EventKind | None = None, series_ids: Sequence[int] | None = None
) -> set[tuple[int, int]]:
    """Return the pairs (smaller id first) an attendee reported in feedback as met for the first time, at events between
    start and end that pass the filters: the second measure beside the seating history."""
    query = (
        select(FirstMeeting.person_id, FirstMeeting.met_person_id)
        .join(Event, Event.id == FirstMeeting.event_id)
        .where(Event.starts_at >= _midnight(start), Event.starts_at < _midnight(end + timedelta(days=1)),
               *_event_conditions(kind, series_ids))
        .distinct()
    )
    return {(min(a, b), max(a, b)) for a, b in session.execute(query) if a != b}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def invitation_counts(
    session: Session, start: date, end: date, *, kind: EventKind | None = None, series_ids: Sequence[int] | None = None
) -> Counter:
    """Count each person's invitations (withdrawn ones left out) to events starting in the period."""
    query = (
        select(Invitation.person_id, func.count(Invitation.id))
        .join(Event, Event.id == Invitation.event_id)
        .where(
            Invitation.cancelled_at.is_(None),
            Event.starts_at >= _midnight(start),
            Event.starts_at < _midnight(end + timedelta(days=1)),
            *_event_conditions(kind, series_ids),
        )
        .group_by(Invitation.person_id)
    )
    return Counter(dict(session.execute(query).all()))


def never_invited_ids(session: Session, *, kind: EventKind | None = None, series_ids: Sequence[int] | None = None) -> set[int]:
    """Return the ids of active people never invited (withdrawn invitations left out) to an event that passes the filters."""
    ever = (
        select(Invitation.id)
        .join(Event, Event.id == Invitation.event_id)
        .where(Invitation.person_id == Person.id, Invitation.cancelled_at.is_(None), *_event_conditions(kind, series_ids))
        .exists()
    )
    return set(session.scalars(select(Person.id).where(Person.is_active.is_(True), ~ever)))


@dataclass(frozen=True)
class StaffMember:
    """An active person as the analytics count them."""

    id: int
    name: str
    department: str
    level: int
    joined_on: date | None
    is_opted_out: bool
    on_leave_until: date | None


def active_staff(session: Session) -> list[StaffMember]:
    """Return the active people, by name (columns only)."""
    query = select(
        Person.id, Person.name, Person.department, Person.level, Person.joined_on, Person.is_opted_out, Person.on_leave_until
    ).where(Person.is_active.is_(True))
    return sorted((StaffMember(*row) for row in session.execute(query)), key=lambda member: (member.name, member.id))


def _members(staff: Iterable[StaffMember]) -> list[Member]:
    return [Member(member.id, member.department, member.level) for member in staff]


@dataclass(frozen=True)
class Group:
    """A department as the per-department figures show it (small departments merged into one group)."""

    name: str
    people: int
    coverage: float
    ei_index: float
    external: int
    internal: int


@dataclass(frozen=True)
class Grouping:
    """Which shown group each department belongs to; None for the departments whose figures are withheld."""

    of: dict[str, str | None]
    labels: list[str]
    withheld: int  # people in the withheld departments


def merged_label(min_group: int) -> str:
    """Return the name of the group that holds the departments under min_group people."""
    return f"Other (departments under {min_group} people)"


def group_departments(staff: Sequence[StaffMember], min_group: int) -> Grouping:
    """Merge the departments under min_group people into one group; withhold it when it is still under min_group."""
    sizes = Counter(member.department for member in staff)
    small = {name for name, size in sizes.items() if size < min_group}
    merged_size = sum(sizes[name] for name in small)
    other = merged_label(min_group) if merged_size >= min_group else None
    of = {name: (other if name in small else name) for name in sizes}
    labels = sorted(name for name in sizes if name not in small) + ([other] if other and small else [])
    return Grouping(of, labels, 0 if other else merged_size)


def department_groups(staff: Sequence[StaffMember], ties: set[tuple[int, int]], overall: Health,
                      grouping: Grouping) -> list[Group]:
    """Return coverage and the E-I index of each shown group; a tie counts for a group when one of its ends is in it."""
    members = _members(staff)
    department = {member.id: member.department for member in staff}
    isolated = set(overall.isolated)
    inside: dict[str, list[StaffMember]] = {label: [] for label in grouping.labels}
    for member in staff:
        label = grouping.of[member.department]
        if label is not None:
            inside[label].append(member)
    touching: dict[str, list[tuple[int, int]]] = {label: [] for label in grouping.labels}
    for a, b in ties:
        if a in department and b in department:
            for label in {grouping.of[department[a]], grouping.of[department[b]]} - {None}:
                touching[label].append((a, b))
    rows = []
    for label in grouping.labels:
        external = sum(department[a] != department[b] for a, b in touching[label])
        rows.append(Group(
            name=label,
            people=len(inside[label]),
            coverage=sum(member.id not in isolated for member in inside[label]) / len(inside[label]),
            ei_index=health(members, touching[label]).ei_index,
            external=external,
            internal=len(touching[label]) - external,
        ))
    return rows


@dataclass(frozen=True)
class Matrix:
    """Ties counted between groups (departments or levels); the diagonal holds the ties inside a group."""

    labels: list[str]
    counts: dict[tuple[str, str], int]

    def get(self, row: str, column: str) -> int:
        """Return the count of ties between two groups."""
        return self.counts.get((row, column), 0)


def tie_matrix(labels: Sequence[str], group_of: Mapping[int, str | None], ties: Iterable[tuple[int, int]]) -> Matrix:
    """Count the ties between each pair of groups (both ways round), leaving out ties with an end outside every group."""
    counts: Counter = Counter()
    for a, b in ties:
        first, second = group_of.get(a), group_of.get(b)
        if first is None or second is None:
            continue
        counts[(first, second)] += 1
        if first != second:
            counts[(second, first)] += 1
    return Matrix(list(labels), dict(counts))


@dataclass(frozen=True)
class Isolated:
    """An active person with no tie outside their department in the period."""

    member: StaffMember
    is_newcomer: bool  # joined in the period, more than NEWCOMER_DAYS ago, and still without such a tie
    unavailable: str | None  # why they cannot be invited now, or None


def isolation_list(staff: Sequence[StaffMember], overall: Health, filters: Filters, today: date) -> list[Isolated]:
    """Return the isolated people: newcomers past their first 30 days first (longest waiting first), then by name."""
    isolated = set(overall.isolated)
    found = []
    for member in staff:
        if member.id not in isolated:
            continue
        joined = member.joined_on
        is_newcomer = joined is not None and filters.start <= joined <= today - timedelta(days=NEWCOMER_DAYS)
        found.append(Isolated(member, is_newcomer, _unavailable(member, today)))
    return sorted(found, key=_isolation_order)


def _isolation_order(item: Isolated) -> tuple:
    waiting_since = item.member.joined_on if item.is_newcomer else date.min
    return (not item.is_newcomer, waiting_since, item.member.name, item.member.id)


def _unavailable(member: StaffMember, today: date) -> str | None:
    if member.is_opted_out:
        return "opted out"
    if member.on_leave_until is not None and member.on_leave_until >= today:
        return f"on leave until {member.on_leave_until.isoformat()}"
    return None


@dataclass(frozen=True)
class Spread:
    """Invitations per active person in the period: the least, the median, the most, and a histogram."""

    people: int
    least: int
    median: float
    most: int
    bins: list[tuple[str, int]]


def invitation_spread(staff: Sequence[StaffMember], counts: Mapping[int, int]) -> Spread:
    """Summarise the invitations per active person (0 for those with none); the last bin holds SPREAD_BINS or more."""
    values = [counts.get(member.id, 0) for member in staff]
    if not values:
        return Spread(0, 0, 0.0, 0, [])
    binned = Counter(min(value, SPREAD_BINS) for value in values)
    top = min(max(values), SPREAD_BINS)
    bins = [(f"{SPREAD_BINS}+" if size == SPREAD_BINS else str(size), binned.get(size, 0)) for size in range(top + 1)]
    return Spread(len(values), min(values), float(median(values)), max(values), bins)


@dataclass(frozen=True)
class Month:
    """One month of the trends: the headline figures over the ties made in that month."""

    first_day: date
    people: int
    ties: int
    coverage: float
    bridge: float
    ei_index: float

    @property
    def label(self) -> str:
        """Return the month as 'Jan 2026'."""
        return self.first_day.strftime("%b %Y")


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """Return the first days of the last `months` calendar months, the current one last."""
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def trends(staff: Sequence[StaffMember], dated: Iterable[tuple[int, int, date]], today: date, *, junior_max: int,
           months: int = MONTHS) -> list[Month]:
    """Return the headline figures month by month: each month's ties, over the active people who had joined by its end."""
    starts = month_starts(today, months)
    by_month: dict[date, set] = {start: set() for start in starts}
    for a, b, day in dated:
        key = date(day.year, day.month, 1)
        if key in by_month:
            by_month[key].add((min(a, b), max(a, b)))
    rows = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - timedelta(days=1) if index + 1 < len(starts) else today
        present = _members(member for member in staff if member.joined_on is None or member.joined_on <= end)
        figures = health(present, by_month[start], junior_max=junior_max)
        known = {member.id for member in present}
        ties = sum(a in known and b in known for a, b in by_month[start])
        rows.append(Month(start, figures.people, ties, figures.coverage, figures.bridge, figures.ei_index))
    return rows


@dataclass(frozen=True)
class Report:
    """Everything the analytics page shows for one set of filters."""

    filters: Filters
    health: Health
    ties: int
    #: the same figures over the first meetings attendees reported in feedback
    reported: Health
    reported_ties: int
    groups: list[Group]
    grouping: Grouping
    departments: Matrix
    levels: Matrix
    isolated: list[Isolated]
    never_invited: list[StaffMember]
    spread: Spread
    trends: list[Month]
    level_names: dict[int, str]


def report(session: Session, filters: Filters, today: date, *, series_ids: Sequence[int] | None, min_group: int,
           junior_max: int, level_names: Sequence[str]) -> Report:
    """Measure the network of the period (six queries, columns only)."""
    kind = filters.kind
    staff = active_staff(session)
    ties = period_ties(session, filters.start, filters.end, kind=kind, series_ids=series_ids)
    reported = reported_ties(session, filters.start, filters.end, kind=kind, series_ids=series_ids)
    dated = dated_ties(session, month_starts(today)[0], today, kind=kind, series_ids=series_ids)
    counts = invitation_counts(session, filters.start, filters.end, kind=kind, series_ids=series_ids)
    never = never_invited_ids(session, kind=kind, series_ids=series_ids)
    overall = health(_members(staff), ties, junior_max=junior_max)
    grouping = group_departments(staff, min_group)
    names = {level: level_names[level] if 0 <= level < len(level_names) else str(level)
             for level in sorted({member.level for member in staff})}
    known = {member.id for member in staff}
    return Report(
        filters=filters,
        health=overall,
        ties=sum(a in known and b in known for a, b in ties),
        reported=health(_members(staff), reported, junior_max=junior_max),
        reported_ties=sum(a in known and b in known for a, b in reported),
        groups=department_groups(staff, ties, overall, grouping),
        grouping=grouping,
        departments=tie_matrix(grouping.labels, {member.id: grouping.of[member.department] for member in staff}, ties),
        levels=tie_matrix(list(names.values()), {member.id: names[member.level] for member in staff}, ties),
        isolated=isolation_list(staff, overall, filters, today),
        never_invited=[member for member in staff if member.id in never],
        spread=invitation_spread(staff, counts),
        trends=trends(staff, dated, today, junior_max=junior_max),
        level_names=names,
    )


class InviteNextError(PlannerError):
    """People who cannot be added to the next round as asked."""


@dataclass(frozen=True)
class Target:
    """Where "invite them next" puts people: a series' next draft round, or one draft event."""

    key: str  # "series:<id>" or "event:<id>"
    label: str
    event_id: int | None  # None: the series has no draft round yet


def invite_targets(session: Session, all_series: Sequence[Series], now: datetime, *,
                   visible: ColumnElement[bool] = EVERYTHING) -> list[Target]:
    """Return each active series with its next draft round, then the one-off draft events to come (one query); only the
    events that `visible` (planner.services.ownership) lets the organiser see."""
    drafts = session.scalars(
        select(Event).where(Event.status == EventStatus.DRAFT, Event.starts_at > now, visible).order_by(Event.starts_at, Event.id)
    ).all()
    next_round: dict[int, Event] = {}
    for event in drafts:
        if event.series_id is not None:
            next_round.setdefault(event.series_id, event)
    targets = []
    for series in sorted(all_series, key=lambda item: (item.title, item.id)):
        if series.status != SeriesStatus.ACTIVE:
            continue
        event = next_round.get(series.id)
        when = f"next draft round {_when(event)}" if event else "no draft round yet"
        targets.append(Target(f"series:{series.id}", f"Series {series.title} ({when})", event.id if event else None))
    targets += [Target(f"event:{event.id}", f"{event.title} ({_when(event)}, draft)", event.id)
                for event in drafts if event.series_id is None]
    return targets


def _when(event: Event) -> str:
    return local(event.starts_at, event).strftime("%a %d %b %Y")


@dataclass(frozen=True)
class InviteNext:
    """What "invite them next" did: who became a must person, and who could not."""

    event: Event
    added: list[Person]
    already: list[Person]
    unavailable: list[tuple[Person, str]]
    no_room: list[Person]
    reproposed: bool

    def message(self) -> str:
        """Say in a few sentences what was done and what was not."""
        where = f"{self.event.title} ({_when(self.event)})"
        parts = []
        if self.added:
            parts.append(f"Added {plural(len(self.added), 'person', 'people')} as must to {where}: {_names(self.added)}.")
        if self.no_room:
            parts.append(f"No room for {_names(self.no_room)}: all {plural(self.event.capacity, 'seat')} "
                         "are taken by must people; choose a later round for them.")
        if self.already:
            parts.append(f"Already must: {_names(self.already)}.")
        if self.unavailable:
            parts.append("Cannot be invited: " + "; ".join(f"{person.name} ({why})" for person, why in self.unavailable) + ".")
        if self.reproposed:
            seats = plural(self.event.capacity, "seat")
            parts.append(f"The rest of the proposal was chosen again around them, to stay within {seats}.")
        return " ".join(parts)


def _names(people: Sequence[Person]) -> str:
    return ", ".join(person.name for person in people)


def resolve_target(session: Session, targets: Sequence[Target], key: str) -> Event:
    """Return the draft a target key names; InviteNextError when there is none."""
    target = next((item for item in targets if item.key == key), None)
    if target is None:
        raise InviteNextError("Choose a series or a draft event to invite them to.")
    if target.event_id is None:
        raise InviteNextError(f"{target.label.split(' (')[0]} has no round waiting for review yet: plan its next round "
                              "from the series page, then invite them to it.")
    return session.get(Event, target.event_id)


def invite_next(session: Session, event: Event, person_ids: Sequence[int], now: datetime, *, lookback_days: int) -> InviteNext:
    """Add these people as must people to a draft, in order, while must people leave seats; re-propose the rest to fit."""
    if not person_ids:
        raise InviteNextError("Tick at least one person to invite next.")
    event = lock_event(session, event.id)
    if event.status != EventStatus.DRAFT:
        raise InviteNextError(f"The invitations of {event.title} have been sent; choose another round.")
    found = {person.id: person for person in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    entries = {entry.person_id: entry for entry in event.proposals}
    musts = sum(entry.is_must for entry in entries.values())
    added, already, unavailable, no_room = [], [], [], []
    for person in (found[person_id] for person_id in dict.fromkeys(person_ids) if person_id in found):
        entry = entries.get(person.id)
        problem = unavailability(person, event_day(event))
        if entry is not None and entry.is_must:
            already.append(person)
        elif problem:
            unavailable.append((person, problem.removeprefix(f"{person.name} ").rstrip(".")))
        elif musts >= event.capacity:
            no_room.append(person)
        else:
            if entry is None:
                entry = planning.add_person(session, event, person, now, lookback_days=lookback_days, is_must=True)
            entry.is_must, entry.reason = True, NEXT_REASON
            musts += 1
            added.append(person)
    session.flush()
    reproposed = len(event.proposals) > event.capacity
    if reproposed:
        planning.propose(session, event, now, lookback_days=lookback_days, seed=event.id)
    if not added and not (already or unavailable or no_room):
        raise InviteNextError("Nobody of those ticked is in the directory any more.")
    return InviteNext(event, added, already, unavailable, no_room, reproposed)


#: the reason shown on the proposal for a person added from the isolation list
NEXT_REASON = "must: no tie outside their department yet (analytics)"
