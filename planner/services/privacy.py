"""Personal data on request: everything stored about one person as JSON, erasure, and the retention of free text.

Erasure anonymises rather than deletes: the person's row, invitations, seats, pair meetings and first
meetings stay (as "Erased person #id", department, level and start date kept) so that seat counts,
invitation counts and the network analytics stay what they were; what they wrote or told us (notes,
needs, free-text answers, feedback comments), their address in mail, and their links go. Other people
appear in an export only by their directory id: their names are their own personal data.
"""

import email
import email.policy
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from ..errors import PlannerError
from ..models import (
    Answer,
    AuditEntry,
    CalendarFeed,
    Event,
    EventExclusion,
    EventStatus,
    FeedbackAnswer,
    FeedbackMail,
    FirstMeeting,
    InboundMail,
    Invitation,
    LoginFailure,
    MailState,
    OutgoingMail,
    PairMeeting,
    Person,
    PersonNeeds,
    ProposalEntry,
    Question,
    QuestionAnswer,
    QuestionKind,
    Reminder,
    Seat,
    SeatingPlan,
    StagedImport,
)
from .capacity import fill_free_seats
from .locking import lock_event
from .mails import MailSettings

#: the reason an unsent mail to an erased person gives in the outbox
WITHDRAWN = "withdrawn: the recipient's personal data was erased"
#: organiser mails read at a time while looking for an erased person's name or address
SCAN_BATCH = 200


class PrivacyError(PlannerError):
    """A request about personal data that cannot be carried out."""


def erased_name(person_id: int) -> str:
    """Return the name an erased person is shown under."""
    return f"Erased person #{person_id}"


def erased_email(person_id: int) -> str:
    """Return the unique, non-routable address an erased person keeps (RFC 2606 reserves .invalid)."""
    return f"erased-{person_id}@invalid"


def find_person(session: Session, address: str) -> Person:
    """Return the person with that email (any case); raise PrivacyError when there is none."""
    person = session.scalar(select(Person).where(Person.email == address.strip().lower()))
    if person is None:
        raise PrivacyError(f"Nobody in the directory has the email {address.strip()!r}.")
    return person


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_person(session: Session, person: Person, now: datetime) -> dict:
    """Return everything stored about one person as JSON-ready data (a fixed number of queries)."""
    invitations = list(session.scalars(
        select(Invitation).options(joinedload(Invitation.event)).where(Invitation.person_id == person.id).order_by(Invitation.id)
    ))
    ids = [invitation.id for invitation in invitations]
    answers = _by_invitation(session.execute(
        select(QuestionAnswer.invitation_id, Question.label, Question.kind, QuestionAnswer.value)
        .join(Question, Question.id == QuestionAnswer.question_id)
        .where(QuestionAnswer.invitation_id.in_(ids)).order_by(QuestionAnswer.id)
    ), lambda row: {"question": row.label, "kind": row.kind, "answer": row.value})
    feedback = {row.invitation_id: row for row in session.scalars(select(FeedbackAnswer).where(FeedbackAnswer.invitation_id.in_(ids)))}
    reminders = _by_invitation(session.execute(
        select(Reminder.invitation_id, Reminder.kind, Reminder.queued_at).where(Reminder.invitation_id.in_(ids)).order_by(Reminder.id)
    ), lambda row: {"kind": row.kind, "queued_at": _when(row.queued_at)})
    feedback_mails = _by_invitation(session.execute(
        select(FeedbackMail.invitation_id, FeedbackMail.kind, FeedbackMail.queued_at)
        .where(FeedbackMail.invitation_id.in_(ids)).order_by(FeedbackMail.id)
    ), lambda row: {"kind": row.kind, "queued_at": _when(row.queued_at)})
    proposals = session.scalars(select(ProposalEntry).where(ProposalEntry.person_id == person.id).order_by(ProposalEntry.id)).all()
    exclusions = session.scalars(select(EventExclusion.event_id).where(EventExclusion.person_id == person.id)).all()
    seats = session.execute(
        select(SeatingPlan.event_id, Seat.plan_id, Seat.table_index, SeatingPlan.published_at)
        .join(SeatingPlan, SeatingPlan.id == Seat.plan_id).where(Seat.person_id == person.id).order_by(Seat.id)
    ).all()
    pairs = session.execute(
        select(PairMeeting.event_id, PairMeeting.met_on, PairMeeting.person_a_id, PairMeeting.person_b_id)
        .where(or_(PairMeeting.person_a_id == person.id, PairMeeting.person_b_id == person.id)).order_by(PairMeeting.id)
    ).all()
    first = session.scalars(
        select(FirstMeeting).where(or_(FirstMeeting.person_id == person.id, FirstMeeting.met_person_id == person.id))
        .order_by(FirstMeeting.id)
    ).all()
    shown = {row.event_id for rows in (proposals, seats, pairs, first) for row in rows} | set(exclusions)
    titles = dict(session.execute(select(Event.id, Event.title).where(Event.id.in_(shown))).all())
    needs = session.scalar(select(PersonNeeds).where(PersonNeeds.person_id == person.id))
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.person_id == person.id))
    return {
        "exported_at": _when(now),
        "person": {
            "id": person.id, "email": person.email, "name": person.name, "department": person.department,
            "level": person.level, "joined_on": _when(person.joined_on), "is_active": person.is_active,
            "is_opted_out": person.is_opted_out, "on_leave_until": _when(person.on_leave_until),
            "created_at": _when(person.created_at), "updated_at": _when(person.updated_at), "erased_at": _when(person.erased_at),
            "scim_user_name": person.scim_user_name, "external_id": person.external_id,
            "scim_deleted_at": _when(person.scim_deleted_at),
        },
        "needs": None if needs is None else {
            "diets": [code for code in needs.diets.split(",") if code], "diet_note": needs.diet_note,
            "access_note": needs.access_note, "updated_at": _when(needs.updated_at),
        },
        "invitations": [
            _invitation(invitation, answers.get(invitation.id, []), feedback.get(invitation.id),
                        reminders.get(invitation.id, []), feedback_mails.get(invitation.id, []))
            for invitation in invitations
        ],
        "proposals": [
            {"event_id": row.event_id, "event": titles.get(row.event_id), "reason": row.reason, "is_must": row.is_must}
            for row in proposals
        ],
        "exclusions": [
            {"event_id": event_id, "event": titles.get(event_id)}
            for event_id in exclusions
        ],
        "seats": [
            {"event_id": row.event_id, "event": titles.get(row.event_id), "plan_id": row.plan_id, "table": row.table_index + 1,
             "published_at": _when(row.published_at)}
            for row in seats
        ],
        "pairs_met": [
            {"event_id": row.event_id, "event": titles.get(row.event_id), "met_on": _when(row.met_on),
             "person_id": row.person_b_id if row.person_a_id == person.id else row.person_a_id}
            for row in pairs
        ],
        "first_meetings_reported": [
            {"event_id": row.event_id, "event": titles.get(row.event_id), "person_id": row.met_person_id}
            for row in first if row.person_id == person.id
        ],
        "first_meetings_reported_by_others": [
            {"event_id": row.event_id, "event": titles.get(row.event_id), "person_id": row.person_id}
            for row in first if row.met_person_id == person.id
        ],
        "mails": [
            {"id": row.id, "recipient": row.recipient, "subject": row.subject, "state": row.state, "attempts": row.attempts,
             "created_at": _when(row.created_at), "sent_at": _when(row.sent_at), "event_id": row.event_id}
            for row in session.execute(
                select(OutgoingMail.id, OutgoingMail.recipient, OutgoingMail.subject, OutgoingMail.state, OutgoingMail.attempts,
                       OutgoingMail.created_at, OutgoingMail.sent_at, OutgoingMail.event_id)
                .where(or_(OutgoingMail.recipient == person.email, OutgoingMail.invitation_id.in_(ids))).order_by(OutgoingMail.id)
            )
        ],
        "calendar_replies": [
            {"received_at": _when(row.received_at), "message_id": row.message_id, "sender": row.sender,
             "invitation_id": row.invitation_id, "outcome": row.outcome, "reason": row.reason}
            for row in session.scalars(_inbound(person.email, ids).order_by(InboundMail.id))
        ],
        "calendar_feed": None if feed is None else {"created_at": _when(feed.created_at)},
        "login_failures": [
            {"failed_at": _when(row.failed_at), "remote_addr": row.remote_addr}
            for row in session.scalars(select(LoginFailure).where(LoginFailure.email == person.email).order_by(LoginFailure.id))
        ],
        "audit": [
            {"at": _when(row.at), "action": row.action, "summary": row.summary}
            for row in session.scalars(
                select(AuditEntry).where(AuditEntry.subject_type == "person", AuditEntry.subject_id == person.id).order_by(AuditEntry.id)
            )
        ],
    }


def _by_invitation(rows: Iterable, shape) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for row in rows:
        found.setdefault(row.invitation_id, []).append(shape(row))
    return found


def _invitation(invitation: Invitation, answers: list[dict], feedback: FeedbackAnswer | None, reminders: list[dict],
                feedback_mails: list[dict]) -> dict:
    event = invitation.event
    return {
        "id": invitation.id,
        "event": {"id": event.id, "title": event.title, "kind": event.kind, "starts_at": _when(event.starts_at),
                  "ends_at": _when(event.ends_at), "timezone": event.timezone, "location": event.location, "status": event.status},
        "answer": invitation.answer, "answered_at": _when(invitation.answered_at), "note": invitation.comment,
        "is_waiting_list": invitation.answer == Answer.WAITLIST, "offer_expires_at": _when(invitation.offer_expires_at),
        "cancelled_at": _when(invitation.cancelled_at), "bounced_at": _when(invitation.bounced_at),
        "bounce_reason": invitation.bounce_reason, "is_no_show": invitation.is_no_show, "created_at": _when(invitation.created_at),
        "question_answers": answers,
        "feedback": None if feedback is None else {
            "rating": feedback.rating, "comment": feedback.comment, "answered_at": _when(feedback.answered_at)},
        "reminders": reminders,
        "feedback_mails": feedback_mails,
    }


def _inbound(address: str, invitation_ids: list[int]):
    return select(InboundMail).where(or_(func.lower(InboundMail.sender) == address, InboundMail.invitation_id.in_(invitation_ids)))


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed or changed, counted (no personal data), and the events whose seats moved."""

    person_id: int
    invitations: int
    withdrawn: int
    answers: int
    feedback_comments: int
    needs: int
    mails: int
    inbound: int
    events: tuple[int, ...]

    @property
    def summary(self) -> str:
        """Return the counts as one line for the audit log."""
        return ", ".join(f"{name} {value}" for name, value in asdict(self).items() if name not in ("person_id", "events"))


def _dead_hash() -> str:
    """Return a token hash that no token has (the hash of a random value nobody keeps)."""
    return hashlib.sha256(secrets.token_bytes(32)).hexdigest()


def erase_person(session: Session, person: Person, settings: MailSettings, now: datetime) -> Erasure:
    """Erase a person's personal data everywhere, keeping the anonymous history that counts and seats rely on.

    Invitations to events still to come are withdrawn (without mail: there is nobody to write to), a seat
    they held goes to the waiting list; the person is opted out and marked erased, so never proposed again.
    """
    if person.erased_at is not None:
        raise PrivacyError(f"{person.name} was erased already.")
    old_email, old_name, label = person.email, person.name, erased_name(person.id)
    invitations = list(session.scalars(
        select(Invitation).options(joinedload(Invitation.event)).where(Invitation.person_id == person.id).order_by(Invitation.id)
    ))
    ids = [invitation.id for invitation in invitations]
    coming = [inv for inv in invitations if inv.cancelled_at is None and inv.event.starts_at > now]
    for invitation in coming:
        invitation.cancelled_at = now
    for invitation in invitations:
        invitation.comment, invitation.bounce_reason = None, None
        invitation.token_hash, invitation.token_seed, invitation.reply_token_hash = _dead_hash(), None, None
    seated = sorted({inv.event_id for inv in coming if inv.answer == Answer.YES and inv.event.status == EventStatus.SENT})
    for event_id in seated:
        fill_free_seats(session, lock_event(session, event_id), settings, now)
    session.execute(delete(ProposalEntry).where(
        ProposalEntry.person_id == person.id, ProposalEntry.event_id.in_(select(Event.id).where(Event.status == EventStatus.DRAFT))
    ))
    answers = session.execute(delete(QuestionAnswer).where(
        QuestionAnswer.invitation_id.in_(ids), QuestionAnswer.question_id.in_(select(Question.id).where(Question.kind == QuestionKind.TEXT))
    )).rowcount
    comments = session.execute(
        update(FeedbackAnswer).where(FeedbackAnswer.invitation_id.in_(ids), FeedbackAnswer.comment.is_not(None)).values(comment=None)
    ).rowcount
    for row in session.scalars(select(FeedbackAnswer).where(FeedbackAnswer.invitation_id.in_(ids))):
        row.token_hash = _dead_hash()
    needs = session.execute(delete(PersonNeeds).where(PersonNeeds.person_id == person.id)).rowcount
    session.execute(delete(CalendarFeed).where(CalendarFeed.person_id == person.id))
    session.execute(delete(LoginFailure).where(LoginFailure.email == old_email))
    session.execute(delete(StagedImport).where(StagedImport.payload.contains(old_email, autoescape=True)))
    mails = _purge_mails(session, person.id, old_email, old_name, ids)
    inbound = 0
    for row in session.scalars(_inbound(old_email, ids)):
        row.sender, inbound = None, inbound + 1
    session.flush()
    _redact_texts(session, old_email, old_name, label)
    person.name, person.email = label, erased_email(person.id)
    person.scim_user_name = person.external_id = None
    person.is_opted_out, person.on_leave_until, person.erased_at = True, None, now
    session.flush()
    return Erasure(person.id, len(invitations), len(coming), answers, comments, needs, mails, inbound, tuple(seated))


def _purge_mails(session: Session, person_id: int, old_email: str, old_name: str, invitation_ids: list[int]) -> int:
    """Empty the stored message of every mail to the person or mentioning them; unsent ones to them are withdrawn."""
    own = list(session.scalars(select(OutgoingMail.id).where(
        or_(OutgoingMail.recipient == old_email, OutgoingMail.invitation_id.in_(invitation_ids)))))
    mentioning = [mail_id for mail_id, raw in _organiser_mails(session, own) if _mentions(raw, old_email, old_name)]
    session.execute(
        update(OutgoingMail).where(OutgoingMail.id.in_(own)).values(recipient=erased_email(person_id), raw=b"", last_error=None)
    )
    session.execute(
        update(OutgoingMail).where(OutgoingMail.id.in_(own), OutgoingMail.state != MailState.SENT)
        .values(state=MailState.FAILED, last_error=WITHDRAWN, lease_until=None, claimed_by=None)
    )
    session.execute(update(OutgoingMail).where(OutgoingMail.id.in_(mentioning)).values(raw=b""))
    session.execute(
        update(OutgoingMail).where(OutgoingMail.id.in_(mentioning), OutgoingMail.state != MailState.SENT)
        .values(state=MailState.FAILED, last_error=WITHDRAWN, lease_until=None, claimed_by=None)
    )
    return len(own) + len(mentioning)


def _organiser_mails(session: Session, skip: list[int]) -> Iterable[tuple[int, bytes]]:
    """Yield (id, raw) of the mails to nobody's invitation (organiser digests, alerts, answer notices), a batch at a time."""
    last = 0
    while True:
        batch = session.execute(
            select(OutgoingMail.id, OutgoingMail.raw)
            .where(OutgoingMail.invitation_id.is_(None), OutgoingMail.id > last, OutgoingMail.id.not_in(skip))
            .order_by(OutgoingMail.id).limit(SCAN_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def _mentions(raw: bytes, address: str, name: str) -> bool:
    """Tell whether a stored message names the person or their address, in any header or decoded text part."""
    if not raw:
        return False
    message = email.message_from_bytes(raw, policy=email.policy.default)
    texts = [str(value) for value in message.values()]
    texts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    text = "\n".join(texts)
    return address in text.lower() or name in text


#: free-text columns that may quote a person by name or address, written by the app about someone else's row
REDACTED_COLUMNS = (
    ProposalEntry.reason,
    InboundMail.reason,
    OutgoingMail.subject,
    OutgoingMail.last_error,
    Invitation.bounce_reason,
    AuditEntry.summary,
)


def _redact_texts(session: Session, old_email: str, old_name: str, label: str) -> None:
    """Replace the person's name and address by their erased name wherever the app quoted them in free text.

    Audit summaries are changed too, with a Core UPDATE beside the ORM's append-only guard: the log keeps
    the entry, not the personal data in it.
    """
    for column in REDACTED_COLUMNS:
        for old in (old_email, old_name):
            if not old:
                continue
            session.execute(
                update(column.class_).where(column.contains(old, autoescape=True)).values({column.key: func.replace(column, old, label)})
                .execution_options(synchronize_session=False)
            )


@dataclass(frozen=True)
class Retention:
    """What one retention run deleted, counted."""

    cutoff: datetime
    notes: int
    answers: int
    feedback_comments: int
    needs: int

    @property
    def total(self) -> int:
        """Return how many values were deleted."""
        return self.notes + self.answers + self.feedback_comments + self.needs

    @property
    def summary(self) -> str:
        """Return the counts as one line for the audit log."""
        return (f"older than {self.cutoff.date().isoformat()}: notes {self.notes}, answers {self.answers}, "
                f"feedback comments {self.feedback_comments}, needs {self.needs}")


def retention_cutoff(now: datetime, months: int) -> datetime:
    """Return the moment before which an event's free text is deleted: `months` calendar months before now."""
    return now - relativedelta(months=months)


def retain(session: Session, now: datetime, months: int) -> Retention:
    """Delete the notes, free-text answers and feedback comments of events that ended more than `months` months ago,
    and the needs of people not invited to any event since (and who did not change them since); idempotent."""
    if months < 1:
        raise PrivacyError("RETENTION_MONTHS must be at least 1.")
    cutoff = retention_cutoff(now, months)
    old = select(Invitation.id).join(Event, Event.id == Invitation.event_id).where(Event.ends_at < cutoff)
    notes = session.execute(
        update(Invitation).where(Invitation.id.in_(old), Invitation.comment.is_not(None)).values(comment=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    answers = session.execute(
        delete(QuestionAnswer).where(
            QuestionAnswer.invitation_id.in_(old),
            QuestionAnswer.question_id.in_(select(Question.id).where(Question.kind == QuestionKind.TEXT)),
        ).execution_options(synchronize_session=False)
    ).rowcount
    comments = session.execute(
        update(FeedbackAnswer).where(FeedbackAnswer.invitation_id.in_(old), FeedbackAnswer.comment.is_not(None))
        .values(comment=None).execution_options(synchronize_session=False)
    ).rowcount
    recent = exists().where(
        Invitation.person_id == PersonNeeds.person_id, Invitation.event_id == Event.id, Event.ends_at >= cutoff
    )
    needs = session.execute(
        delete(PersonNeeds).where(PersonNeeds.updated_at < cutoff, ~recent).execution_options(synchronize_session=False)
    ).rowcount
    return Retention(cutoff, notes, answers, comments, needs)
