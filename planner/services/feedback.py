"""Feedback after an event: who is asked (and reminded once), the link's token, the answer, and the results.

The link's token is HMAC-SHA256 of the secret key over "feedback:" and the invitation's seed, so the
reminder carries the same link; only its SHA-256 is stored (FeedbackAnswer.token_hash). A FeedbackMail
row per (invitation, kind), added in the same transaction as the outbox mail, makes sending idempotent.
"""

import base64
import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import (
    Answer,
    Event,
    EventStatus,
    FeedbackAnswer,
    FeedbackMail,
    FeedbackMailKind,
    FirstMeeting,
    Invitation,
    Person,
)
from ..text import control_problem
from ..tokens import TOKEN_BYTES, TokenError, hash_token
from .events import event_day, zone
from .mails import MailSettings, invitation_addresses
from .seating import published_plan

REMINDER_AFTER = timedelta(days=2)
RATINGS = range(1, 6)


class FeedbackError(PlannerError):
    """Feedback that cannot be saved as given."""


@dataclass(frozen=True)
class FeedbackResults:
    """One event's feedback: how many were asked and answered, the ratings, the comments and first meetings."""

    asked: int
    answered: int
    average: float | None
    ratings: dict[int, int]
    comments: list[str]
    first_meetings: int


@dataclass(frozen=True)
class RoundResults:
    """One round of a series with its feedback."""

    event: Event
    results: FeedbackResults


def feedback_token(invitation: Invitation, settings: MailSettings) -> str:
    """Return the feedback link's token of an invitation (its seed is made first when it has none)."""
    if not invitation.token_seed:
        invitation_addresses(invitation, settings)
    key = settings.secret_key.encode("utf-8") if isinstance(settings.secret_key, str) else settings.secret_key
    digest = hmac.new(key, f"feedback:{invitation.token_seed}".encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii")


def feedback_url(token: str, settings: MailSettings) -> str:
    """Return the address of the feedback page for a token."""
    return f"{settings.base_url.rstrip('/')}/feedback/{token}"


def feedback_opens_at(event: Event) -> datetime:
    """Return when the feedback mail is due: the start of the day after the event, in the event's timezone."""
    return datetime.combine(event_day(event) + timedelta(days=1), time(0), tzinfo=zone(event.timezone))


def attendees_to_ask(session: Session, now: datetime, *, window_days: int) -> list[int]:
    """Return the invitations due a feedback request: attendees of events over since the day before (within window_days)."""
    asked = select(FeedbackMail.invitation_id).where(FeedbackMail.kind == FeedbackMailKind.REQUEST)
    query = (
        select(Invitation.id, Event)
        .join(Event, Event.id == Invitation.event_id)
        .where(
            Event.status == EventStatus.SENT,
            Event.has_feedback.is_(True),
            Event.ends_at <= now,
            Event.ends_at >= now - timedelta(days=window_days + 1),
            *_came(),
            _not_erased(),
            Invitation.id.not_in(asked),
        )
        .order_by(Invitation.id)
    )
    return [invitation_id for invitation_id, event in session.execute(query) if feedback_opens_at(event) <= now]


def attendees_to_remind(session: Session, now: datetime) -> list[int]:
    """Return the invitations asked at least two days ago that have not answered nor been reminded."""
    reminded = select(FeedbackMail.invitation_id).where(FeedbackMail.kind == FeedbackMailKind.REMINDER)
    answered = select(FeedbackAnswer.invitation_id).where(FeedbackAnswer.answered_at.is_not(None))
    query = (
        select(FeedbackMail.invitation_id)
        .join(Invitation, Invitation.id == FeedbackMail.invitation_id)
        .join(Event, Event.id == Invitation.event_id)
        .where(
            FeedbackMail.kind == FeedbackMailKind.REQUEST,
            FeedbackMail.queued_at <= now - REMINDER_AFTER,
            Event.has_feedback.is_(True),
            Event.status == EventStatus.SENT,
            *_came(),
            _not_erased(),
            FeedbackMail.invitation_id.not_in(reminded),
            FeedbackMail.invitation_id.not_in(answered),
        )
        .order_by(FeedbackMail.invitation_id)
    )
    return list(session.scalars(query))


def _came() -> tuple:
    return (Invitation.answer == Answer.YES, Invitation.cancelled_at.is_(None), Invitation.is_no_show.is_(False))


def _not_erased():
    """Invitations of people whose personal data was not erased (an erased person has no address to write to)."""
    return Invitation.person_id.not_in(select(Person.id).where(Person.erased_at.is_not(None)))


def mark_sent(session: Session, invitation: Invitation, kind: FeedbackMailKind, settings: MailSettings, now: datetime) -> str:
    """Record that this kind of feedback mail goes to the invitation (flushed: a second one fails on the UNIQUE row);
    return the link's token."""
    token = feedback_token(invitation, settings)
    session.add(FeedbackMail(invitation_id=invitation.id, kind=kind, queued_at=now))
    if kind == FeedbackMailKind.REQUEST:
        exists = session.scalar(select(FeedbackAnswer.id).where(FeedbackAnswer.invitation_id == invitation.id))
        if exists is None:
            session.add(FeedbackAnswer(invitation_id=invitation.id, token_hash=hash_token(token)))
    session.flush()
    return token


def find_feedback(session: Session, token: str) -> FeedbackAnswer:
    """Return the feedback row a link's token belongs to; raise TokenError when none does."""
    row = session.scalar(select(FeedbackAnswer).where(FeedbackAnswer.token_hash == hash_token(token)))
    if row is None:
        raise TokenError.invalid()
    return row


def people_to_tick(session: Session, invitation: Invitation) -> list[Person]:
    """Return whom the attendee can say they met: their table of the published plan, else everyone else who came."""
    event = invitation.event
    plan = published_plan(session, event)
    if plan is not None:
        tables = {seat.person_id: seat.table_index for seat in plan.seats}
        mine = tables.get(invitation.person_id)
        if mine is not None:
            ids = [person_id for person_id, table in tables.items() if table == mine and person_id != invitation.person_id]
            return list(session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.name, Person.id)))
    query = (
        select(Person)
        .join(Invitation, Invitation.person_id == Person.id)
        .where(Invitation.event_id == event.id, *_came(), Person.id != invitation.person_id)
        .order_by(Person.name, Person.id)
    )
    return list(session.scalars(query))


def met_ids(session: Session, invitation: Invitation) -> set[int]:
    """Return whom the attendee said they met for the first time at this event."""
    query = select(FirstMeeting.met_person_id).where(
        FirstMeeting.event_id == invitation.event_id, FirstMeeting.person_id == invitation.person_id
    )
    return set(session.scalars(query))


def save_feedback(
    session: Session, row: FeedbackAnswer, rating: str | None, met: list[str], comment: str | None, now: datetime
) -> None:
    """Save (or replace) an attendee's rating, first meetings and comment; raise FeedbackError on bad input."""
    if not rating or not rating.isdigit() or int(rating) not in RATINGS:
        raise FeedbackError("Choose a rating from 1 to 5.")
    comment = (comment or "").strip()
    problem = control_problem(comment, multiline=True)
    if problem:
        raise FeedbackError(f"The comment {problem}; please remove it.")
    if len(comment) > 2000:
        raise FeedbackError("The comment is longer than 2000 characters; please shorten it.")
    invitation = row.invitation
    allowed = {person.id for person in people_to_tick(session, invitation)}
    chosen = {int(value) for value in met if value.isdigit()}
    if not chosen <= allowed:
        raise FeedbackError("Tick only people from the list.")
    row.rating, row.comment, row.answered_at = int(rating), comment or None, now
    session.execute(
        delete(FirstMeeting).where(FirstMeeting.event_id == invitation.event_id, FirstMeeting.person_id == invitation.person_id)
    )
    session.add_all(
        FirstMeeting(event_id=invitation.event_id, person_id=invitation.person_id, met_person_id=person_id)
        for person_id in sorted(chosen)
    )
    session.flush()


def set_feedback(event: Event, is_on: bool) -> None:
    """Turn the event's feedback mails on or off."""
    event.has_feedback = is_on


def event_results(session: Session, event: Event) -> FeedbackResults:
    """Return an event's feedback results (three queries, whatever the number of answers)."""
    return series_results(session, [event])[0].results


def series_results(session: Session, events: list[Event]) -> list[RoundResults]:
    """Return the feedback results of each event (three queries for all of them)."""
    ids = [event.id for event in events]
    asked = dict(
        session.execute(
            select(Invitation.event_id, func.count(FeedbackMail.id))
            .join(Invitation, Invitation.id == FeedbackMail.invitation_id)
            .where(Invitation.event_id.in_(ids), FeedbackMail.kind == FeedbackMailKind.REQUEST)
            .group_by(Invitation.event_id)
        ).all()
    )
    answers: dict[int, list[tuple[int, str | None]]] = {}
    for event_id, rating, comment in session.execute(
        select(Invitation.event_id, FeedbackAnswer.rating, FeedbackAnswer.comment)
        .join(Invitation, Invitation.id == FeedbackAnswer.invitation_id)
        .where(Invitation.event_id.in_(ids), FeedbackAnswer.answered_at.is_not(None))
        .order_by(FeedbackAnswer.answered_at, FeedbackAnswer.id)
    ):
        answers.setdefault(event_id, []).append((rating, comment))
    meetings = dict(
        session.execute(
            select(FirstMeeting.event_id, func.count(FirstMeeting.id))
            .where(FirstMeeting.event_id.in_(ids))
            .group_by(FirstMeeting.event_id)
        ).all()
    )
    return [
        RoundResults(event, _results(asked.get(event.id, 0), answers.get(event.id, []), meetings.get(event.id, 0)))
        for event in events
    ]


def overall(rounds: list[RoundResults]) -> FeedbackResults:
    """Return the results of several rounds taken together."""
    ratings = Counter()
    for item in rounds:
        ratings.update(item.results.ratings)
    answered = sum(item.results.answered for item in rounds)
    total = sum(rating * count for rating, count in ratings.items())
    return FeedbackResults(
        asked=sum(item.results.asked for item in rounds),
        answered=answered,
        average=round(total / answered, 2) if answered else None,
        ratings={rating: ratings.get(rating, 0) for rating in RATINGS},
        comments=[comment for item in rounds for comment in item.results.comments],
        first_meetings=sum(item.results.first_meetings for item in rounds),
    )


def _results(asked: int, answers: list[tuple[int, str | None]], first_meetings: int) -> FeedbackResults:
    counts = Counter(rating for rating, _ in answers)
    return FeedbackResults(
        asked=asked,
        answered=len(answers),
        average=round(sum(rating for rating, _ in answers) / len(answers), 2) if answers else None,
        ratings={rating: counts.get(rating, 0) for rating in RATINGS},
        comments=[comment for _, comment in answers if comment],
        first_meetings=first_meetings,
    )
