"""Row locks and the retry for a stale SQLite snapshot: the concurrency tools every use case shares."""

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Executable, bindparam, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, scoped_session

from ..models import Event, Person, Series

T = TypeVar("T")


#: built once (every answer locks its event), each a (PostgreSQL, SQLite) pair: PostgreSQL reads the row FOR UPDATE; SQLite
#: takes its write lock with a no-op UPDATE that returns the row; either way one statement locks the event and reads it afresh
_LOCK = (
    select(Event).where(Event.id == bindparam("event_id")).with_for_update(),
    update(Event).where(Event.id == bindparam("event_id")).values(capacity=Event.capacity).returning(Event),
)
_FRESH = {"populate_existing": True, "synchronize_session": False}
#: the lock alone, for a caller that reads afresh what it needs in its own next statement (the answer path)
_EVENTS = Event.__table__
_LOCK_ONLY = (
    select(_EVENTS.c.id).where(_EVENTS.c.id == bindparam("event_id")).with_for_update(),
    update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id")).values(capacity=_EVENTS.c.capacity),
)

#: a series read for a change of who runs it (co-organisers, handover), locked as an event is
_SERIES_LOCK = (
    select(Series).where(Series.id == bindparam("series_id")).with_for_update(),
    update(Series).where(Series.id == bindparam("series_id")).values(capacity=Series.capacity).returning(Series),
)

#: a person read for a change (SCIM PUT and PATCH), locked as an event is; SQLite's no-op UPDATE sets updated_at to itself,
#: so that taking the lock is not a change
_PERSON_LOCK = (
    select(Person).where(Person.id == bindparam("person_id")).with_for_update(),
    update(Person).where(Person.id == bindparam("person_id")).values(updated_at=Person.updated_at).returning(Person),
)


def _for_dialect(dialect: Dialect, pair: tuple[Executable, Executable]) -> Executable:
    """The statement of a (PostgreSQL, SQLite) pair that locks a row on this dialect."""
    postgresql, sqlite = pair
    return postgresql if dialect.name == "postgresql" else sqlite


def lock_event(session: Session, event_id: int) -> Event:
    """Lock the event row until the transaction ends (seat counts cannot change underneath) and return it fresh."""
    session.flush()
    statement = _for_dialect(session.get_bind().dialect, _LOCK)
    return session.scalars(statement, {"event_id": event_id}, execution_options=_FRESH).one()


def lock_series(session: Session, series_id: int) -> Series:
    """Lock the series row until the transaction ends (a concurrent change of who runs it waits) and return it fresh."""
    session.flush()
    statement = _for_dialect(session.get_bind().dialect, _SERIES_LOCK)
    return session.scalars(statement, {"series_id": series_id}, execution_options=_FRESH).one()


def lock_person(session: Session, person_id: int) -> Person | None:
    """Lock the person row until the transaction ends (a concurrent change waits) and return it fresh; None if missing."""
    session.flush()
    statement = _for_dialect(session.get_bind().dialect, _PERSON_LOCK)
    return session.scalars(statement, {"person_id": person_id}, execution_options=_FRESH).one_or_none()


def reads_only(session: Session | scoped_session) -> None:
    """Run the request's statements outside a transaction on PostgreSQL (autocommit), for a page that only reads: no BEGIN
    and ROLLBACK round trips, each statement its own snapshot. It takes effect before the session's first statement (a
    session already at work keeps its transaction); the pool gives the connection its usual isolation back when the
    request ends. SQLite reads outside a transaction anyway."""
    current = session() if isinstance(session, scoped_session) else session
    if not current.in_transaction() and current.get_bind().dialect.name == "postgresql":
        current.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def once_more_when_stale(session: Session, work: Callable[[], T]) -> T:
    """Run work (which commits); when the database refuses it (a stale SQLite snapshot), roll back and run it once more."""
    try:
        return work()
    except OperationalError:
        session.rollback()
        return work()


def lock_event_row(session: Session, event_id: int) -> None:
    """Lock the event row until the transaction ends, like lock_event, without reading it (no ORM object is built)."""
    session.flush()
    connection = session.connection()
    connection.execute(_for_dialect(connection.dialect, _LOCK_ONLY), {"event_id": event_id})
