"""Answers from invitees, by RSVP link and by calendar reply (services.replies): one service for both.

An answer is stamped (answered_at) once the event lock is held, so the waiting list, which is
ordered by that stamp, follows the same order in which seats are given.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..metrics import count_answer
from ..models import Answer, Invitation, utcnow
from ..tokens import TokenError, hash_token
from .capacity import fill_free_seats, yes_or_waitlist
from .events import is_open_for_answers
from .locking import lock_event
from .mails import MailSettings

ANSWERS = {"yes": Answer.YES, "no": Answer.NO, "maybe": Answer.MAYBE}


class AnswerError(PlannerError):
    """An answer that cannot be recorded."""


def find_invitation(session: Session, token: str) -> Invitation:
    """Return the invitation a token belongs to; raise TokenError when none does."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise TokenError.invalid()
    return invitation


def record_answer(
    session: Session, invitation: Invitation, answer: str, now: datetime, comment: str | None = None, *, settings: MailSettings
) -> bool:
    """Set an invitation's answer (a yes when the event is full waits for a seat); return whether it changed.

    Raise AnswerError when the answer came (now) after the deadline. The answer is stamped when the
    event lock is granted. A yes that turns into no or maybe gives its seat to the oldest waiting
    invitation, whose mail is queued.
    """
    if answer not in ANSWERS:
        raise AnswerError("Choose yes, no or maybe.")
    lock_event(session, invitation.event_id)
    stamp = utcnow()
    session.refresh(invitation)
    if invitation.cancelled_at is not None:
        raise AnswerError("This invitation was withdrawn.")
    if not is_open_for_answers(invitation.event, now):
        raise AnswerError("Answers for this event are closed.")
    old = invitation.answer
    new = yes_or_waitlist(session, invitation) if ANSWERS[answer] == Answer.YES else ANSWERS[answer]
    comment = (comment or "").strip() or None
    if old == new and (comment is None or comment == invitation.comment):
        return False
    if old != new or new != Answer.WAITLIST:  # a note alone keeps the place in the queue
        invitation.answer = new
        invitation.answered_at = stamp
    if comment is not None:
        invitation.comment = comment[:1000]
    session.flush()
    if old != new:
        count_answer(new)
    if old == Answer.YES and new != Answer.YES:
        fill_free_seats(session, invitation.event, settings, stamp)
    return True
