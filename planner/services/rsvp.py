"""Answers from invitees, by RSVP link and by calendar reply (services.replies): one service for both.

An answer is stamped (answered_at) once the event lock is held, so the waiting list, which is
ordered by that stamp, follows the same order in which seats are given.
"""

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..errors import PlannerError
from ..metrics import count_answer
from ..models import Answer, Event, EventStatus, Invitation, Organiser, Person, PersonNeeds, Question, SeatingPlan, utcnow
from ..tokens import TokenError, hash_token
from . import audit
from .capacity import fill_free_seats, is_open_offer, yes_or_waitlist
from .events import is_open_for_answers, local
from .locking import lock_event_row
from .mails import MailSettings
from .needs import Needs, stored_needs

ANSWERS = {"yes": Answer.YES, "no": Answer.NO, "maybe": Answer.MAYBE}
#: the longest note for the organiser an answer keeps
COMMENT_LENGTH = 1000


_INVITATIONS, _EVENTS = Invitation.__table__, Event.__table__

#: built once, so that each lookup reuses its compiled form and cache key (the busiest query of the app): the columns of
#: the invitation and its event, the names of the person and the organiser, the person's remembered needs, and whether
#: the event has a published seating plan or questions (the page reads those only when there are some). Plain columns:
#: building ORM objects for them cost twice the rest of the lookup.
_BY_TOKEN = (
    select(
        _INVITATIONS,
        _EVENTS,
        Person.name,
        Organiser.name,
        PersonNeeds.diets,
        PersonNeeds.diet_note,
        PersonNeeds.access_note,
        exists().where(SeatingPlan.event_id == _INVITATIONS.c.event_id, SeatingPlan.published_at.is_not(None)),
        exists().where(Question.event_id == _INVITATIONS.c.event_id),
    )
    .join_from(_INVITATIONS, _EVENTS, _EVENTS.c.id == _INVITATIONS.c.event_id)
    .join(Organiser, Organiser.id == _EVENTS.c.organiser_id)
    .join(Person, Person.id == _INVITATIONS.c.person_id)
    .outerjoin(PersonNeeds, PersonNeeds.person_id == _INVITATIONS.c.person_id)
    .where(_INVITATIONS.c.token_hash == bindparam("token_hash"))
)
_INVITATION_KEYS = tuple(column.key for column in _INVITATIONS.c)
_EVENT_KEYS = tuple(column.key for column in _EVENTS.c)

#: the invitation with its event, organiser and person, for the other pages a personal link opens (needs, opt-out, feed)
_WITH_PEOPLE = (
    select(Invitation)
    .where(Invitation.token_hash == bindparam("token_hash"))
    .options(joinedload(Invitation.event).joinedload(Event.organiser), joinedload(Invitation.person))
)

#: what an answer reads, with its event locked: the invitation, its event, and whether the event asks questions, as plain
#: columns. PostgreSQL reads both rows FOR UPDATE (once a wait for the lock ends, the rows as stored now); SQLite first
#: takes its write lock with a no-op UPDATE of the event of the token's invitation (_LOCK_BY_TOKEN), then reads
_FOR_ANSWER = (
    select(_INVITATIONS, _EVENTS, exists().where(Question.event_id == _INVITATIONS.c.event_id))
    .join_from(_INVITATIONS, _EVENTS, _EVENTS.c.id == _INVITATIONS.c.event_id)
    .where(_INVITATIONS.c.token_hash == bindparam("token_hash"))
)
_FOR_ANSWER_LOCKED = _FOR_ANSWER.with_for_update()
_LOCK_BY_TOKEN = (
    update(_EVENTS)
    .where(_EVENTS.c.id == select(_INVITATIONS.c.event_id).where(_INVITATIONS.c.token_hash == bindparam("token_hash"))
           .scalar_subquery())
    .values(capacity=_EVENTS.c.capacity)
)

#: the invitation and its event read again once the event is locked, in one statement (built once, like the lookup)
_AFRESH = (
    select(Invitation, Event).join(Invitation.event).where(Invitation.id == bindparam("id"))
    .options(contains_eager(Invitation.event))
)
#: the answer written straight to its row, a Core statement on the table (the values given name the columns set)
_ANSWER = update(Invitation.__table__).where(Invitation.__table__.c.id == bindparam("invitation_id"))


class Snapshot(SimpleNamespace):
    """The columns of one row as attributes (an invitation, with .event its event's): read for a page, not tracked by the
    session, so nothing set on it is saved."""


@dataclass(frozen=True)
class Invited:
    """An invitation found by its token, with what its RSVP page needs to know, from one statement."""

    invitation: Snapshot
    person_name: str
    organiser_name: str
    needs: Needs  #: the person's remembered needs (empty when none)
    has_plan: bool  #: the event has a published seating plan
    has_questions: bool  #: the event asks questions


@dataclass(frozen=True)
class Answering:
    """An invitation found by its token to take an answer: a snapshot with its event's (not its person, organiser or
    needs), read with the event locked (lock_answering), so as stored until the transaction ends."""

    invitation: Snapshot
    has_questions: bool  #: the event asks questions


@dataclass(frozen=True)
class Recorded:
    """An answer recorded: the invitation with it set, whether it changed, and whether the answer passed a seat on (to
    the waiting list, or as an offer), whose mail is then queued."""

    invitation: Invitation | Snapshot
    changed: bool
    passes_seat_on: bool


class AnswerError(PlannerError):
    """An answer that cannot be recorded."""


class AnswersClosed(AnswerError):
    """An answer that came after the event's answer deadline."""

    def __init__(self, event: Event):
        self.closed_on = closed_on(event)
        super().__init__(f"Answers for this event are closed. They closed on {self.closed_on}; your answer stays as it was.")


def answers_close_at(event: Event) -> datetime:
    """Return when answers close: the deadline, or the start when there is none."""
    return event.rsvp_deadline_at or event.starts_at


def closed_on(event: Event) -> str:
    """Return the moment answers close, in the event's timezone, as people read it."""
    return f"{local(answers_close_at(event), event).strftime('%d %B %Y, %H:%M')} ({event.timezone})"


def is_late(event: Event, now: datetime) -> bool:
    """Tell whether an answer given now to a sent event comes after its deadline."""
    return event.status == EventStatus.SENT and now >= answers_close_at(event)


def find_invited(session: Session, token: str) -> Invited:
    """Return the invitation a token belongs to with what its page needs (one statement); else raise TokenError."""
    invitation, (person_name, organiser_name, diets, diet_note, access_note, has_plan, has_questions) = _by_token(
        session, _BY_TOKEN, hash_token(token))
    return Invited(invitation, person_name, organiser_name, stored_needs(diets, diet_note, access_note), has_plan, has_questions)


def lock_answering(session: Session, token: str) -> Answering:
    """Lock the event of the invitation a token belongs to, until the transaction ends, and return the invitation with
    what an answer to it needs, as stored now (PostgreSQL: one statement; SQLite: two); else raise TokenError."""
    session.flush()
    connection, token_hash = session.connection(), hash_token(token)
    is_postgresql = connection.dialect.name == "postgresql"
    if not is_postgresql:
        connection.execute(_LOCK_BY_TOKEN, {"token_hash": token_hash})
    invitation, (has_questions,) = _by_token(session, _FOR_ANSWER_LOCKED if is_postgresql else _FOR_ANSWER, token_hash)
    return Answering(invitation, has_questions)


def _by_token(session: Session, statement, token_hash: str) -> tuple[Snapshot, tuple]:
    """Run a lookup by token hash that starts with the invitation's and its event's columns: (the invitation's snapshot,
    the rest); raise TokenError when no invitation has that hash."""
    session.flush()
    row = session.connection().execute(statement, {"token_hash": token_hash}).first()
    if row is None:
        raise TokenError.invalid()
    split, end = len(_INVITATION_KEYS), len(_INVITATION_KEYS) + len(_EVENT_KEYS)
    event = Snapshot(**dict(zip(_EVENT_KEYS, row[split:end])))
    return Snapshot(**dict(zip(_INVITATION_KEYS, row[:split])), event=event), tuple(row[end:])


def find_invitation(session: Session, token: str) -> Invitation:
    """Return the invitation a token belongs to, with its event, organiser and person (one statement); else raise TokenError."""
    invitation = session.scalar(_WITH_PEOPLE, {"token_hash": hash_token(token)})
    if invitation is None:
        raise TokenError.invalid()
    return invitation


def record_answer(
    session: Session, invitation: Invitation, answer: str, now: datetime, comment: str | None = None, *, settings: MailSettings,
    via: str = "link",
) -> bool:
    """Set an invitation's answer (a yes when the event is full waits for a seat); return whether it changed.

    A change is recorded in the audit log as the answer and the way it came (`via`), never the note.

    Raise AnswersClosed when the answer came (now) after the deadline, AnswerError when it cannot be given.
    The answer is stamped when the event lock is granted. A yes that turns into no or maybe (or an open offer turned down)
    gives its seat to the oldest waiting invitation, whose mail is queued; a decline on an event that backfills itself then offers the open seat at once
    (services.offers.refill), in the same transaction.
    """
    lock_event_row(session, invitation.event_id)
    fresh = session.execute(_AFRESH, {"id": invitation.id}, execution_options={"populate_existing": True}).one()[0]
    return _apply(session, fresh, answer, now, comment, settings, via).changed


def record_link_answer(session: Session, locked: Snapshot, answer: str, now: datetime, comment: str | None, *,
                       settings: MailSettings) -> Recorded:
    """Record an answer given on the RSVP page (as record_answer, via the link) to an invitation that lock_answering read
    in this transaction; what was recorded, the snapshot with the answer set on it."""
    return _apply(session, locked, answer, now, comment, settings, "link")


def _apply(session: Session, invitation: Invitation | Snapshot, answer: str, now: datetime, comment: str | None,
           settings: MailSettings, via: str) -> Recorded:
    """record_answer for an invitation (or a snapshot of one) read as stored once its event was locked."""
    if answer not in ANSWERS:
        raise AnswerError("Choose yes, no or maybe.")
    stamp = utcnow()
    if invitation.cancelled_at is not None:
        raise AnswerError("This invitation was withdrawn.")
    if is_late(invitation.event, now):
        raise AnswersClosed(invitation.event)
    if not is_open_for_answers(invitation.event, now):
        raise AnswerError("Answers for this event are closed.")
    old, held = invitation.answer, is_open_offer(invitation, now)
    new = yes_or_waitlist(session, invitation, now) if ANSWERS[answer] == Answer.YES else ANSWERS[answer]
    comment = (comment or "").strip() or None
    if old == new and (comment is None or comment == invitation.comment):
        return Recorded(invitation, False, False)
    values = {"answer": new, "answered_at": stamp} if old != new or new != Answer.WAITLIST else {}  # a note alone keeps the place in the queue
    if comment is not None:
        values["comment"] = comment[:COMMENT_LENGTH]
    _write(session, invitation, values)
    waiting = " (waiting list)" if new == Answer.WAITLIST else ""
    audit.record_now(session, "answer.record", actor=audit.INVITEE, subject=("invitation", invitation.id),
                     summary=f"{answer} via {via}{waiting}")
    if old != new:
        count_answer(new)
    frees_seat = (old == Answer.YES or held) and new != Answer.YES
    makes_offer = new == Answer.NO and old != Answer.NO and invitation.event.is_auto_backfill
    if frees_seat or makes_offer:
        event = _event_object(session, invitation)  # read once for both
        if frees_seat:
            fill_free_seats(session, event, settings, stamp)
        if makes_offer:
            from .offers import refill  # only a decline needs the planning modules

            refill(session, event, settings, now)
    return Recorded(invitation, True, frees_seat or makes_offer)


def _event_object(session: Session, invitation: Invitation | Snapshot) -> Event:
    """The invitation's event as a loaded object, for the rarer work a decline starts (seats given, offers made)."""
    if not isinstance(invitation, Snapshot):
        return invitation.event
    return session.get(Event, invitation.event_id, populate_existing=True)  # the event is locked: as stored now


def _write(session: Session, invitation: Invitation | Snapshot, values: dict) -> None:
    """Store the answer's columns with one direct UPDATE (no unit-of-work flush) and set them on the invitation read, and
    on its object when the session has one loaded (the seats a decline frees are counted from objects)."""
    session.connection().execute(_ANSWER, {"invitation_id": invitation.id, **values})
    is_snapshot = isinstance(invitation, Snapshot)
    loaded = session.identity_map.get(identity_key(Invitation, invitation.id)) if is_snapshot else invitation
    for key, value in values.items():
        if is_snapshot:
            setattr(invitation, key, value)
        if loaded is not None:
            set_committed_value(loaded, key, value)
