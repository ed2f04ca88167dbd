"""Row locks and the retry for a stale SQLite snapshot: the concurrency tools every use case shares."""

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..models import Event

T = TypeVar("T")


def lock_event(session: Session, event_id: int) -> Event:
    """Lock the event row until the transaction ends (seat counts cannot change underneath) and return it fresh."""
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Event.id).where(Event.id == event_id).with_for_update())
    else:
        session.execute(
            update(Event).where(Event.id == event_id).values(capacity=Event.capacity).execution_options(synchronize_session=False)
        )
    return session.get(Event, event_id, populate_existing=True)


def once_more_when_stale(session: Session, work: Callable[[], T]) -> T:
    """Run work (which commits); when the database refuses it (a stale SQLite snapshot), roll back and run it once more."""
    try:
        return work()
    except OperationalError:
        session.rollback()
        return work()
