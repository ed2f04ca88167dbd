"""Capacity: a yes takes one of the event's `capacity` seats while any is free, else joins the waiting list.

Every change that takes or frees a seat locks the event row first (PostgreSQL: SELECT ... FOR
UPDATE; SQLite: a no-op UPDATE, which takes the database's write lock), then counts, so that two
people answering yes for the last seat at once never both get it.  When a seat frees up (a yes
turns into no or maybe, a yes is un-invited, the capacity rises) the oldest waiting invitation
(by answered_at, stamped once the lock is held) takes it and is told by mail, which leaves after
the caller commits; next_in_line tells beforehand who that would be, for previews.  Lowering
the capacity below the yes answers takes no seat back: new yes answers wait until enough decline.
An open backfill offer (services.offers: unanswered, not withdrawn, not yet expired) holds its seat:
it counts as held in the same SQL count, under the same lock, so only the person offered it can
take that seat until the offer expires; anyone else's yes then waits.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..models import Answer, Event, EventStatus, Invitation, utcnow
from .mails import MailSettings, queue_seat_mail


@dataclass(frozen=True)
class SeatCount:
    """An event's seats: how many, taken by a yes, invitations waiting for one, and seats held by open offers."""

    capacity: int
    taken: int
    waiting: int
    held: int = 0

    @property
    def free(self) -> int:
        """Seats nobody takes or holds (never negative, even when the capacity was lowered)."""
        return max(self.capacity - self.taken - self.held, 0)


def _active():
    return Invitation.cancelled_at.is_(None)


def _is_open_offer():
    return (Invitation.answer == Answer.PENDING) & (Invitation.offer_expires_at > bindparam("now"))


def _counted(condition):
    """How many of the event's active invitations meet condition: a range of the seats index (ix_invitation_seats)
    read on its own, so that a count reads only the answers it counts and never the rows, however many are pending."""
    return select(func.count()).where(Invitation.event_id == bindparam("event_id"), condition, _active()).scalar_subquery()


#: built once (every answer counts the seats): the compiled form and cache key are reused
_SEATS = select(
    _counted(Invitation.answer == Answer.YES),
    _counted(Invitation.answer == Answer.WAITLIST),
    _counted(_is_open_offer()),
)
_AHEAD = select(func.count(Invitation.id)).where(
    Invitation.event_id == bindparam("event_id"),
    _active(),
    Invitation.answer == Answer.WAITLIST,
    (Invitation.answered_at < bindparam("answered_at"))
    | ((Invitation.answered_at == bindparam("answered_at")) & (Invitation.id < bindparam("id"))),
)


def seat_count(session: Session, event: Event, now: datetime | None = None) -> SeatCount:
    """Count the event's seats taken, the invitations waiting and the seats open offers hold (at now), in one statement."""
    # straight to the connection (after the flush the session would do): its own layer costs several times the count
    session.flush()
    taken, waiting, held = session.connection().execute(_SEATS, {"event_id": event.id, "now": now or utcnow()}).one()
    return SeatCount(event.capacity, taken, waiting, held)


def is_open_offer(invitation: Invitation, now: datetime) -> bool:
    """An offer still unanswered and not withdrawn that holds its seat at now."""
    expires = invitation.offer_expires_at
    return expires is not None and expires > now and invitation.cancelled_at is None and invitation.answer == Answer.PENDING


def waiting_list(session: Session, event: Event) -> list[Invitation]:
    """Return the invitations waiting for a seat, first come first served."""
    query = select(Invitation).where(Invitation.event_id == event.id, _active(), Invitation.answer == Answer.WAITLIST)
    return list(session.scalars(query.order_by(Invitation.answered_at, Invitation.id)))


def waitlist_position(session: Session, invitation: Invitation) -> int | None:
    """Return an invitation's place on its event's waiting list (1 = next), or None when it is not waiting."""
    if invitation.answer != Answer.WAITLIST or invitation.cancelled_at is not None:
        return None
    values = {"event_id": invitation.event_id, "answered_at": invitation.answered_at, "id": invitation.id}
    return 1 + session.scalar(_AHEAD, values)


def yes_or_waitlist(session: Session, invitation: Invitation, now: datetime | None = None) -> Answer:
    """Decide what a yes gets, with the event already locked: a seat while one is free (an open offer takes the seat it
    holds), else the waiting list."""
    if invitation.answer in (Answer.YES, Answer.WAITLIST):
        return invitation.answer
    now = now or utcnow()
    count = seat_count(session, invitation.event, now)
    own = 1 if is_open_offer(invitation, now) else 0
    return Answer.YES if count.capacity - count.taken - count.held + own > 0 else Answer.WAITLIST


def next_in_line(
    session: Session, event: Event, *, capacity: int | None = None, leaving: Invitation | None = None,
    now: datetime | None = None,
) -> list[Invitation]:
    """Return the waiting invitations that would get a seat now, at `capacity` and once `leaving` gives up its seat."""
    if event.status != EventStatus.SENT:
        return []
    count = seat_count(session, event, now)
    gives_up = 1 if leaving is not None and leaving.cancelled_at is None and leaving.answer == Answer.YES else 0
    after = SeatCount(event.capacity if capacity is None else capacity, count.taken - gives_up, count.waiting, count.held)
    return waiting_list(session, event)[: after.free]


def fill_free_seats(session: Session, event: Event, settings: MailSettings, now: datetime) -> list[Invitation]:
    """Give free seats to the oldest waiting invitations and queue a mail to each; the event must be locked."""
    session.flush()
    promoted = next_in_line(session, event, now=now)
    for invitation in promoted:
        invitation.answer = Answer.YES
        queue_seat_mail(session, invitation, settings, now)
    session.flush()
    return promoted
