"""Capacity: a yes takes one of the event's `capacity` seats while any is free, else joins the waiting list.

Every change that takes or frees a seat locks the event row first (PostgreSQL: SELECT ... FOR
UPDATE; SQLite: a no-op UPDATE, which takes the database's write lock), then counts, so that two
people answering yes for the last seat at once never both get it.  When a seat frees up (a yes
turns into no or maybe, a yes is un-invited, the capacity rises) the oldest waiting invitation
(by answered_at) takes it and is told by mail, which leaves after the caller commits.  Lowering
the capacity below the yes answers takes no seat back: new yes answers wait until enough decline.
"""

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Answer, Event, EventStatus, Invitation, OutgoingMail
from .addresses import invitation_addresses
from .invites import MailContext, assemble_mail, mail_values, queue_mail, render_bodies, subject_for


@dataclass(frozen=True)
class SeatMail:
    """What a promotion mail needs: the installation's mail settings and the templates."""

    ctx: MailContext
    templates: Environment


@dataclass(frozen=True)
class SeatCount:
    """An event's seats: how many, taken by a yes, and invitations waiting for one."""

    capacity: int
    taken: int
    waiting: int

    @property
    def free(self) -> int:
        """Seats nobody holds (never negative, even when the capacity was lowered)."""
        return max(self.capacity - self.taken, 0)


def _active():
    return Invitation.cancelled_at.is_(None)


def seat_count(session: Session, event: Event) -> SeatCount:
    """Count the event's seats taken and the invitations waiting, from the database."""
    counts = dict(
        session.execute(
            select(Invitation.answer, func.count(Invitation.id))
            .where(Invitation.event_id == event.id, _active(), Invitation.answer.in_([Answer.YES, Answer.WAITLIST]))
            .group_by(Invitation.answer)
        ).all()
    )
    return SeatCount(event.capacity, counts.get(Answer.YES, 0), counts.get(Answer.WAITLIST, 0))


def waiting_list(session: Session, event: Event) -> list[Invitation]:
    """Return the invitations waiting for a seat, first come first served."""
    query = select(Invitation).where(Invitation.event_id == event.id, _active(), Invitation.answer == Answer.WAITLIST)
    return list(session.scalars(query.order_by(Invitation.answered_at, Invitation.id)))


def waitlist_position(session: Session, invitation: Invitation) -> int | None:
    """Return an invitation's place on its event's waiting list (1 = next), or None when it is not waiting."""
    if invitation.answer != Answer.WAITLIST or invitation.cancelled_at is not None:
        return None
    return 1 + [waiting.id for waiting in waiting_list(session, invitation.event)].index(invitation.id)


def yes_or_waitlist(session: Session, invitation: Invitation) -> Answer:
    """Decide what a yes gets, with the event already locked: a seat while one is free, else the waiting list."""
    if invitation.answer in (Answer.YES, Answer.WAITLIST):
        return invitation.answer
    return Answer.YES if seat_count(session, invitation.event).free > 0 else Answer.WAITLIST


def fill_free_seats(session: Session, event: Event, mail: SeatMail, now: datetime) -> list[Invitation]:
    """Give free seats to the oldest waiting invitations and queue a mail to each; the event must be locked."""
    if event.status != EventStatus.SENT:
        return []
    session.flush()
    promoted = waiting_list(session, event)[: seat_count(session, event).free]
    for invitation in promoted:
        invitation.answer = Answer.YES
        queue_seat_mail(session, invitation, mail, now)
    session.flush()
    return promoted


def queue_seat_mail(session: Session, invitation: Invitation, mail: SeatMail, now: datetime) -> OutgoingMail:
    """Queue "A seat is free: you are in" (text and HTML, no calendar part) to a promoted invitee."""
    event, person = invitation.event, invitation.person
    addresses = invitation_addresses(session, invitation, mail.ctx)
    values = mail_values(event, person, addresses.rsvp_url)
    message = assemble_mail(event, person, subject_for("A seat is free: you are in —", event), addresses.reply_address,
                            mail.ctx, stamp=now, bodies=render_bodies(mail.templates, "seat", values))
    return queue_mail(session, message, event_id=event.id, invitation_id=invitation.id)
