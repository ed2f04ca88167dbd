"""Who may see and change which events and series: owners, co-organisers, admins; viewers read, never change.

Every rule lives here as a SQL condition, so that a page of one object and a list of many ask the same question.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, FromClause, Select, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Event, Organiser, OrganiserRole, Series, event_co_organiser, series_co_organiser
from ..text import plural
from .locking import lock_event, lock_series

#: the condition that lets everything through (an admin's or a viewer's view, and the default of the list queries)
EVERYTHING = true()


class OwnershipError(PlannerError):
    """A co-organiser change that cannot be made."""


def sees_everything(organiser: Organiser) -> bool:
    """Tell whether this organiser sees every event and series: admins, and viewers (who only read)."""
    return organiser.role in (OrganiserRole.ADMIN, OrganiserRole.VIEWER)


def involved_series(organiser_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """The condition on Series: this organiser created it or is one of its co-organisers."""
    shared = _correlated(series_co_organiser, select(series_co_organiser.c.series_id).where(
        series_co_organiser.c.organiser_id == organiser_id))
    return or_(Series.organiser_id == organiser_id, Series.id.in_(shared))


def involved_events(organiser_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """The condition on Event: this organiser (an id, or Organiser.id in a join) made it, co-organises it, or runs its series."""
    shared = _correlated(event_co_organiser, select(event_co_organiser.c.event_id).where(
        event_co_organiser.c.organiser_id == organiser_id))
    of_series = _correlated(Series, select(Series.id).where(involved_series(organiser_id)))
    return or_(Event.organiser_id == organiser_id, Event.id.in_(shared), Event.series_id.in_(of_series))


def _correlated(own: FromClause | type, subquery: Select) -> Select:
    """The subquery, correlated to the enclosing queries at any depth (auto-correlation: one level), never on its own table."""
    return subquery.correlate_except(own)


def visible_events(organiser: Organiser) -> ColumnElement[bool]:
    """The condition on Event for what this organiser may see: everything for admins and viewers, else their own."""
    return EVERYTHING if sees_everything(organiser) else involved_events(organiser.id)


def visible_series(organiser: Organiser) -> ColumnElement[bool]:
    """The condition on Series for what this organiser may see."""
    return EVERYTHING if sees_everything(organiser) else involved_series(organiser.id)


def may_see_event(session: Session, organiser: Organiser, event: Event) -> bool:
    """Tell whether the organiser may see (and, unless a viewer, change) the event; no query for its owner or an admin."""
    if sees_everything(organiser) or event.organiser_id == organiser.id:
        return True
    return bool(session.scalar(select(exists().where(Event.id == event.id, involved_events(organiser.id)))))


def may_see_series(session: Session, organiser: Organiser, series: Series) -> bool:
    """Tell whether the organiser may see (and, unless a viewer, change) the series."""
    if sees_everything(organiser) or series.organiser_id == organiser.id:
        return True
    return bool(session.scalar(select(exists().where(Series.id == series.id, involved_series(organiser.id)))))


def may_share(organiser: Organiser, owner_id: int) -> bool:
    """Tell whether the organiser may add or remove co-organisers of an object owned by owner_id: its owner or an admin."""
    return organiser.is_admin or (organiser.id == owner_id and organiser.can_change)


def _locked(session: Session, thing: Event | Series) -> None:
    """Lock an event's or a series' row until the transaction ends and read who runs it afresh (owner, co-organisers):
    two changes of who runs it at once (a double click, two owners' tabs) then apply one after the other, the second
    checked against the first's outcome."""
    if isinstance(thing, Event):
        lock_event(session, thing.id)
    else:
        lock_series(session, thing.id)
    session.expire(thing, ["organiser", "co_organisers"])


def add_co_organiser(session: Session, thing: Event | Series, organiser_id: int) -> Organiser:
    """Add an organiser as a co-organiser of an event or a series; OwnershipError when they cannot be one (the owner,
    one already in, a viewer or a deactivated organiser). The row is locked first (_locked)."""
    _locked(session, thing)
    organiser = session.get(Organiser, organiser_id)
    if organiser is None or organiser in thing.co_organisers or not _may_join(organiser, thing):
        raise OwnershipError("Choose an active organiser (not a viewer) who is not already organising this.")
    thing.co_organisers.append(organiser)
    session.flush()
    return organiser


def remove_co_organiser(session: Session, thing: Event | Series, organiser_id: int) -> Organiser:
    """Remove a co-organiser of an event or a series; OwnershipError when they are not one. The row is locked first."""
    _locked(session, thing)
    organiser = next((item for item in thing.co_organisers if item.id == organiser_id), None)
    if organiser is None:
        raise OwnershipError("That organiser is not a co-organiser here.")
    thing.co_organisers.remove(organiser)
    session.flush()
    return organiser


@dataclass(frozen=True)
class Handover:
    """A handover of an event or a series: the co-organiser who becomes its owner and the rounds to come that go along."""

    thing: Event | Series
    owner: Organiser
    rounds: list[Event]
    previous: Organiser  #: the owner until now, who stays on as a co-organiser

    @property
    def what(self) -> str:
        """What goes to the new owner, in words: the event, or the series and its rounds still to come."""
        if isinstance(self.thing, Event):
            return "this event"
        return f"this series and {plural(len(self.rounds), 'round')} of it still to come (past rounds keep their owner)"


def planned_handover(session: Session, thing: Event | Series, organiser_id: int, by: Organiser, now: datetime) -> Handover:
    """Check that `by` may make that co-organiser the owner and tell what would be handed over; OwnershipError if not."""
    if not may_share(by, thing.organiser_id):
        raise OwnershipError("Only the owner or an admin may hand this over.")
    owner = next((item for item in thing.co_organisers if item.id == organiser_id), None)
    if owner is None:
        raise OwnershipError("Only a current co-organiser can become the owner.")
    if not owner.is_active:
        raise OwnershipError(f"{owner.name} is deactivated and cannot become the owner.")
    if not owner.can_change:
        raise OwnershipError(f"{owner.name} is a viewer, and viewers cannot own events or series.")
    rounds = [] if isinstance(thing, Event) else list(session.scalars(
        select(Event).where(Event.series_id == thing.id, Event.organiser_id == thing.organiser_id, Event.starts_at > now)
        .order_by(Event.starts_at)))
    return Handover(thing=thing, owner=owner, rounds=rounds, previous=thing.organiser)


def hand_over(session: Session, thing: Event | Series, organiser_id: int, by: Organiser, now: datetime) -> Handover:
    """Make a co-organiser the owner of an event or a series (and of its rounds to come); the previous owner co-organises.

    The row is locked first (_locked), so a second handover at once is checked against the new owner and refused."""
    _locked(session, thing)
    handover = planned_handover(session, thing, organiser_id, by, now)
    thing.co_organisers.remove(handover.owner)
    thing.co_organisers.append(thing.organiser)
    thing.organiser = handover.owner
    for event in handover.rounds:
        event.organiser = handover.owner
        if handover.owner in event.co_organisers:
            event.co_organisers.remove(handover.owner)
    session.flush()
    return handover


@dataclass(frozen=True)
class Sharing:
    """Who runs an event or a series: its owner, its co-organisers, who could be added, and whether the reader may."""

    owner: Organiser | None
    co_organisers: list[Organiser]
    candidates: list[Organiser]
    can_share: bool


def sharing(session: Session, thing: Event | Series, reader: Organiser) -> Sharing:
    """Build the co-organiser section of an event's or a series' page in one query."""
    table, key = (event_co_organiser, "event_id") if isinstance(thing, Event) else (series_co_organiser, "series_id")
    joined = and_(table.c.organiser_id == Organiser.id, table.c[key] == thing.id)
    is_co = table.c[key].is_not(None)
    rows = session.execute(
        select(Organiser, is_co).outerjoin(table, joined)
        .where(or_(Organiser.is_active, is_co, Organiser.id == thing.organiser_id)).order_by(Organiser.name, Organiser.id)
    ).all()
    return Sharing(
        owner=next((organiser for organiser, _ in rows if organiser.id == thing.organiser_id), None),
        co_organisers=[organiser for organiser, shared in rows if shared],
        candidates=[organiser for organiser, shared in rows if not shared and _may_join(organiser, thing)],
        can_share=may_share(reader, thing.organiser_id),
    )


def _may_join(organiser: Organiser, thing: Event | Series) -> bool:
    return organiser.is_active and organiser.can_change and organiser.id != thing.organiser_id
