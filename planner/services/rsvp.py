"""Answers from invitees, by RSVP link and by calendar reply (services.replies): one service for both."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Answer, Invitation
from ..tokens import TokenError, hash_token
from .events import is_open_for_answers

ANSWERS = {"yes": Answer.YES, "no": Answer.NO, "maybe": Answer.MAYBE}


class AnswerError(Exception):
    """An answer that cannot be recorded."""


def find_invitation(session: Session, token: str) -> Invitation:
    """Return the invitation a token belongs to; raise TokenError when none does."""
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise TokenError.invalid()
    return invitation


def record_answer(session: Session, invitation: Invitation, answer: str, now: datetime, comment: str | None = None) -> bool:
    """Set an invitation's answer; return whether it changed. Raise AnswerError after the deadline."""
    if answer not in ANSWERS:
        raise AnswerError("Choose yes, no or maybe.")
    if invitation.cancelled_at is not None:
        raise AnswerError("This invitation was withdrawn.")
    if not is_open_for_answers(invitation.event, now):
        raise AnswerError("Answers for this event are closed.")
    new = ANSWERS[answer]
    comment = (comment or "").strip() or None
    if invitation.answer == new and (comment is None or comment == invitation.comment):
        return False
    invitation.answer = new
    invitation.answered_at = now
    if comment is not None:
        invitation.comment = comment[:1000]
    session.flush()
    return True
