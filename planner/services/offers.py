"""Offers: an event that backfills itself offers a declined seat to the replacement plan_round would add, for a while.

A decline first gives its seat to the waiting list (services.capacity, at the answer); only while
nobody waits and a seat is open (backfill.open_seats: not taken, waited for or spoken for) is a
decline not yet replaced offered to backfill.fair_replacement. That happens at the decline itself
(services.rsvp.record_answer calls refill in the answer's transaction, under the event lock) and
at each periodic run (run_offers), which also picks up declines nobody could replace before. The
offer is an invitation with offer_expires_at: its mail says until when the seat is held (the
event's offer_hours, else the OFFER_HOURS setting, never beyond the answer deadline), and while it
is open the seat counts as held (services.capacity). The newcomer answers like everyone else. An
offer still unanswered when it expires is withdrawn (a CANCEL); its decline no longer counts as
replaced (backfill.backfill_state) and is offered to the next person. run_offers works one event
at a time under the event lock, so it is idempotent and two runs at once never offer one seat twice.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Answer, Event, EventStatus, Invitation
from ..text import plural
from . import audit
from .backfill import backfill_state, fair_replacement, record_replacement
from .capacity import fill_free_seats, seat_count
from .changes import uninvite
from .events import is_open_for_answers
from .locking import lock_event, once_more_when_stale
from .mails import MailSettings, issue_tokens, queue_offer


@dataclass
class OfferReport:
    """What one run did: offers withdrawn unanswered and offers made (invitation ids)."""

    expired: list[int] = field(default_factory=list)
    offered: list[int] = field(default_factory=list)


def held_until(event: Event, now: datetime, default_hours: int) -> datetime:
    """Until when an offer made now holds its seat: offer hours later, but never beyond the answer deadline."""
    hours = event.offer_hours if event.offer_hours is not None else default_hours
    return min(now + timedelta(hours=hours), event.rsvp_deadline_at or event.starts_at)


def run_offers(session: Session, settings: MailSettings, now: datetime) -> OfferReport:
    """Withdraw expired offers and offer open seats of every event that backfills itself; commit per event."""
    report = OfferReport()
    query = select(Event.id).where(Event.is_auto_backfill.is_(True), Event.status == EventStatus.SENT, Event.starts_at > now)
    event_ids = list(session.scalars(query.order_by(Event.id)))
    session.rollback()  # each event's transaction starts with its lock, so that a SQLite snapshot is never stale

    def one(event_id: int) -> tuple[list[int], list[int]]:
        event = lock_event(session, event_id)
        session.expire_all()
        done = refill(session, event, settings, now)
        if any(done):
            audit.record(session, "offer.run", actor=audit.COMMAND_LINE, subject=("event", event_id),
                         summary=f"{plural(len(done[0]), 'offer')} expired, {plural(len(done[1]), 'offer')} made")
        session.commit()
        return done

    for event_id in event_ids:
        expired, offered = once_more_when_stale(session, lambda: one(event_id))
        report.expired += expired
        report.offered += offered
    return report


def refill(session: Session, event: Event, settings: MailSettings, now: datetime) -> tuple[list[int], list[int]]:
    """With the event locked: withdraw its expired offers, then offer each open seat; return (expired ids, offered ids)."""
    session.expire(event, ["invitations", "proposals"])
    expired, offered = [], []
    for invitation in [inv for inv in event.invitations if _has_expired(inv, now)]:
        uninvite(session, invitation, settings, now)
        expired.append(invitation.id)
    if expired:  # the seats they held are free: the waiting list comes first
        fill_free_seats(session, event, settings, now)
    session.expire(event, ["invitations", "proposals"])
    if not is_open_for_answers(event, now) or seat_count(session, event, now).waiting:
        return expired, offered
    state = backfill_state(event, now)
    for declined in state.replaceable[: state.open_seats]:
        newcomer = fair_replacement(session, event, now, lookback_days=settings.lookback_days)
        if newcomer is None:
            break
        offered.append(_offer(session, event, declined.person, newcomer, settings, now).id)
    return expired, offered


def _has_expired(invitation: Invitation, now: datetime) -> bool:
    """An offer nobody answered before it expired (and not yet withdrawn)."""
    expires = invitation.offer_expires_at
    return expires is not None and expires <= now and invitation.cancelled_at is None and invitation.answer == Answer.PENDING


def _offer(session, event, gone, newcomer, settings, now) -> Invitation:
    record_replacement(event, gone, newcomer)
    invitation = Invitation(event=event, person=newcomer, offer_expires_at=held_until(event, now, settings.offer_hours))
    issue_tokens(invitation, settings)
    session.add(invitation)
    queue_offer(session, invitation, settings, stamp=now)
    session.flush()
    session.expire(event, ["invitations"])
    return invitation


def event_offers(event: Event) -> list[Invitation]:
    """The event's offers, newest first, for its page."""
    return sorted((inv for inv in event.invitations if inv.offer_expires_at is not None), key=lambda inv: -inv.id)
