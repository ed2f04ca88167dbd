"""Database models (SQLAlchemy 2, typed)."""

import enum
from datetime import UTC, date, datetime, time

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .directory import search_key
from .extensions import db


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DigestMode(enum.StrEnum):
    """What an organiser hears about answers: nothing, one mail a day, or a mail per answer."""

    OFF = "off"
    DAILY = "daily"
    EACH = "each"


class Organiser(UserMixin, db.Model):
    """A person who logs in to plan events."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: part of every session and remember cookie; raising it ends them all (logout, password change)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest: Mapped[DigestMode] = mapped_column(String(20), default=DigestMode.DAILY, server_default="daily")
    #: when the digest setting last changed: nothing older is reported
    digest_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def get_id(self) -> str:
        """Return the id Flask-Login keeps in cookies: the organiser's id and session version."""
        return f"{self.id}:{self.session_version}"


class LoginFailure(db.Model):
    """One failed login, kept for rate limiting."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Person(db.Model):
    """A member of staff from the directory."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stored lower-case so that matching is case-insensitive
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(120), index=True)
    #: 0 = most junior, an index into the configured level ladder
    level: Mapped[int] = mapped_column(Integer, index=True)
    joined_on: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    on_leave_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: name and email folded for accent- and case-insensitive search; set whenever either changes
    search_key: Mapped[str] = mapped_column(Text, default="")

    @validates("name", "email")
    def _keep_search_key(self, key: str, value: str) -> str:
        name = value if key == "name" else self.name
        email = value if key == "email" else self.email
        self.search_key = search_key(name or "", email or "")
        return value


class StagedImport(db.Model):
    """A validated directory upload waiting for the organiser's confirmation."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id"))
    filename: Mapped[str] = mapped_column(String(255))
    #: JSON list of validated rows
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventKind(enum.StrEnum):
    LUNCH = "lunch"
    DRINKS = "drinks"
    TRAINING = "training"


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    CANCELLED = "cancelled"


class PlanningMode(enum.StrEnum):
    """How a proposal chooses: fair turns over the year, equal seats per group, or seats in proportion to group size."""

    FAIR = "fair"
    EVEN = "even"
    PROPORTIONAL = "proportional"


class SendMode(enum.StrEnum):
    """Whether a series' rounds wait for the organiser's review or are sent when their planning day comes."""

    REVIEW = "review"
    AUTOMATIC = "automatic"


class SeriesStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class Series(db.Model):
    """A recurring event: each occurrence becomes its own Event (a round) with its own invitations."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    #: wall-clock times in the series' timezone
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int] = mapped_column(Integer)
    #: an RFC 5545 RRULE value (without "RRULE:"), expanded from starts_on at start_time
    rrule: Mapped[str] = mapped_column(String(255))
    starts_on: Mapped[date] = mapped_column(Date)
    #: each round's answer deadline, this many hours before it starts
    deadline_hours: Mapped[int] = mapped_column(Integer, default=48)
    #: each round is created and planned this many days before it starts
    plan_days_ahead: Mapped[int] = mapped_column(Integer, default=14)
    #: each round reminds the unanswered this many days before its deadline (0: never)
    reminder_days: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    send_mode: Mapped[SendMode] = mapped_column(String(20), default=SendMode.REVIEW)
    planning_mode: Mapped[PlanningMode] = mapped_column(String(20), default=PlanningMode.FAIR)
    #: copied to each round: a decline is refilled by itself (waiting list first, then an offer)
    is_auto_backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: copied to each round: how long an offer holds its seat; None = the OFFER_HOURS setting
    offer_hours: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[SeriesStatus] = mapped_column(String(20), default=SeriesStatus.ACTIVE)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id"))
    #: the series this one continues (an edit of its rounds from a date on)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organiser: Mapped[Organiser] = relationship()
    previous: Mapped["Series | None"] = relationship(remote_side=[id])
    events: Mapped[list["Event"]] = relationship(back_populates="series", order_by="Event.starts_at")
    skips: Mapped[list["SeriesSkip"]] = relationship(cascade="all, delete-orphan", order_by="SeriesSkip.occurrence_on")


class SeriesSkip(db.Model):
    """A date of a series on which no round takes place."""

    __table_args__ = (UniqueConstraint("series_id", "occurrence_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    occurrence_on: Mapped[date] = mapped_column(Date)


class Event(db.Model):
    """A lunch, drinks or training day."""

    #: one round per series date, however many `series run` commands race to create it
    __table_args__ = (UniqueConstraint("series_id", "occurrence_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the iCalendar UID, stable for the life of the event
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[EventKind] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int] = mapped_column(Integer)
    rsvp_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the unanswered are reminded this many days before the deadline (0: never)
    reminder_days: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    #: the iCalendar SEQUENCE of the latest invitation sent
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[EventStatus] = mapped_column(String(20), default=EventStatus.DRAFT)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planning_mode: Mapped[PlanningMode] = mapped_column(String(20), default=PlanningMode.FAIR)
    #: when someone declines and nobody waits, the seat is offered to the replacement plan_round would add
    is_auto_backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: how long an offer holds its seat (never beyond the deadline); None = the OFFER_HOURS setting
    offer_hours: Mapped[int | None] = mapped_column(Integer)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True)
    #: the series date this round stands for (it keeps it when the round is moved to another day)
    occurrence_on: Mapped[date | None] = mapped_column(Date)
    #: when the pairs who met were recorded from the attendance, after the event
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: attendees get a feedback mail the day after (and one reminder) unless the organiser turned it off
    has_feedback: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    organiser: Mapped[Organiser] = relationship()
    series: Mapped[Series | None] = relationship(back_populates="events")
    invitations: Mapped[list["Invitation"]] = relationship(back_populates="event", order_by="Invitation.id")
    proposals: Mapped[list["ProposalEntry"]] = relationship(
        back_populates="event", order_by="ProposalEntry.id", cascade="all, delete-orphan"
    )
    #: the custom questions, removed with a deleted draft
    questions: Mapped[list["Question"]] = relationship(order_by="Question.id", cascade="all, delete-orphan")


class ProposalEntry(db.Model):
    """A person proposed for an event before the invitations are sent."""

    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    #: why this person is in, shown to the organiser
    reason: Mapped[str] = mapped_column(String(200), default="")
    is_must: Mapped[bool] = mapped_column(Boolean, default=False)

    event: Mapped[Event] = relationship(back_populates="proposals")
    person: Mapped[Person] = relationship()


class EventExclusion(db.Model):
    """A person the organiser left out of one event by hand; re-proposing keeps them out."""

    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))


class Answer(enum.StrEnum):
    PENDING = "pending"
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    WAITLIST = "waitlist"


class Invitation(db.Model):
    """One person invited to one event, with the seed and the hashes of their RSVP and reply tokens."""

    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: random seed that, with the secret key, rebuilds the RSVP and reply tokens for follow-up mail; None before it existed
    token_seed: Mapped[str | None] = mapped_column(String(64))
    #: hash of the token in this invitation's ORGANIZER reply address
    reply_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    answer: Mapped[Answer] = mapped_column(String(20), default=Answer.PENDING)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    #: the SEQUENCE of the newest calendar reply applied, to ignore older ones
    reply_sequence: Mapped[int | None] = mapped_column(Integer)
    #: set when the organiser un-invited this person (a CANCEL was sent)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    #: marked by the organiser after the event: said yes but did not come
    is_no_show: Mapped[bool] = mapped_column(Boolean, default=False)
    #: an offer (an automatic replacement) holds its seat until then; unanswered, it is withdrawn and passed on
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(back_populates="invitations")
    person: Mapped[Person] = relationship()


class MailState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


class OutgoingMail(db.Model):
    """A message in the outbox; it leaves only after the transaction that queued it commits."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id"))
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[MailState] = mapped_column(String(20), default=MailState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: which worker run holds the message while it is being sent
    claimed_by: Mapped[str | None] = mapped_column(String(64), index=True)
    #: while sending: the claim runs out then unless the worker renews it (a dead worker's claim expires)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped["Invitation | None"] = relationship()


class JobState(enum.StrEnum):
    """Where a background job is: waiting, being run by a worker, or finished."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(db.Model):
    """A piece of slow work (a seating search) that a worker claims, runs and records, like the outbox."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    #: the event the job is about, for the page that waits for it
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    #: the job's arguments as JSON text
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[JobState] = mapped_column(String(20), default=JobState.QUEUED, index=True)
    #: runs so far, counted when a worker claims the job
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    #: while running: the claim runs out then (a killed worker's job is taken again)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: what the job produced (JSON text), or why it failed
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundMail(db.Model):
    """A message received for the reply addresses, and what was done with it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_id: Mapped[str | None] = mapped_column(String(255))
    sender: Mapped[str | None] = mapped_column(String(254))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id"), index=True)
    #: applied, ignored or rejected
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")


class SeatingPlan(db.Model):
    """A split of an event's attendees into tables."""

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON: table sizes and weights the plan was made with
    settings: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    seats: Mapped[list["Seat"]] = relationship(back_populates="plan", cascade="all, delete-orphan", order_by="Seat.table_index")


class Seat(db.Model):
    """One attendee at one table of a seating plan."""

    __table_args__ = (UniqueConstraint("plan_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("seating_plan.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    #: 0-based table number
    table_index: Mapped[int] = mapped_column(Integer)

    plan: Mapped[SeatingPlan] = relationship(back_populates="seats")
    person: Mapped[Person] = relationship()


class PairMeeting(db.Model):
    """Two people who sat at the same table at an event (person_a_id < person_b_id)."""

    __table_args__ = (UniqueConstraint("person_a_id", "person_b_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_a_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    person_b_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
    met_on: Mapped[date] = mapped_column(Date)


class ReminderKind(enum.StrEnum):
    """Which reminder: to answer before the deadline, or (to a yes) that the event is tomorrow."""

    UNANSWERED = "unanswered"
    DAY_BEFORE = "day_before"


class Reminder(db.Model):
    """A reminder queued to one invitee, once per kind however many `reminders send` runs race."""

    __table_args__ = (UniqueConstraint("invitation_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    kind: Mapped[ReminderKind] = mapped_column(String(20))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_mail.id"))

    invitation: Mapped[Invitation] = relationship()
    mail: Mapped["OutgoingMail | None"] = relationship()


class AlertKind(enum.StrEnum):
    """What an alert tells the organiser: every seat is taken, or every invitee who can answer has."""

    FULL = "full"
    ALL_ANSWERED = "all_answered"


class EventAlert(db.Model):
    """An alert to the organiser that an event filled or that everyone answered, once per event and kind."""

    __table_args__ = (UniqueConstraint("event_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    kind: Mapped[AlertKind] = mapped_column(String(20))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None when the organiser's digest is off: the alert is settled without a mail
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_mail.id"))


class Digest(db.Model):
    """A note to an organiser, once per key: the daily digest (key: the UTC date) or one answer (key: invitation and time)."""

    __table_args__ = (UniqueConstraint("organiser_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id"), index=True)
    #: "daily" or "answer"
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))
    #: the digest reports what happened up to this moment; the next one starts here
    covers_until: Mapped[datetime] = mapped_column(UTCDateTime)
    #: None when there was nothing to report
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_mail.id"))


class FeedbackMailKind(enum.StrEnum):
    REQUEST = "request"
    REMINDER = "reminder"


class FeedbackMail(db.Model):
    """A feedback mail (request or reminder) queued for one invitation: at most one of each kind."""

    __table_args__ = (UniqueConstraint("invitation_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    kind: Mapped[FeedbackMailKind] = mapped_column(String(20))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackAnswer(db.Model):
    """An attendee's feedback on an event: a 1-5 rating and a comment."""

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), unique=True)
    #: the hash of the feedback link's token (derived from the invitation's seed)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation] = relationship()


class FirstMeeting(db.Model):
    """An attendee's answer that they met someone for the first time at an event (beside the seating history)."""

    __table_args__ = (UniqueConstraint("event_id", "person_id", "met_person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    met_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))


class CalendarFeed(db.Model):
    """A private calendar feed: an organiser's events or one person's invitations; revoked by deleting the row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id"), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), unique=True)
    #: random seed that, with the secret key, rebuilds the feed URL's token; rotating replaces it
    token_seed: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
class PersonNeeds(db.Model):
    """A person's dietary and access needs, remembered for every event and shown only to organisers."""

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    #: the common diets ticked, comma-separated codes (planner.services.needs.DIETS)
    diets: Mapped[str] = mapped_column(String(200), default="")
    diet_note: Mapped[str] = mapped_column(Text, default="")
    access_note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class QuestionKind(enum.StrEnum):
    TEXT = "text"
    ONE = "one"
    SEVERAL = "several"


class Question(db.Model):
    """A question the organiser asks the invitees of one event."""

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[QuestionKind] = mapped_column(String(20))
    #: the choices of a one- or several-choice question, one per line
    choices: Mapped[str] = mapped_column(Text, default="")
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    answers: Mapped[list["QuestionAnswer"]] = relationship(cascade="all, delete-orphan")

    @property
    def choice_list(self) -> list[str]:
        """Return the choices, one per line, in order."""
        return [line for line in self.choices.split("\n") if line]


class QuestionAnswer(db.Model):
    """One invitation's answer to one question: the text, or the chosen choices one per line."""

    __table_args__ = (UniqueConstraint("question_id", "invitation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id"), index=True)
    value: Mapped[str] = mapped_column(Text, default="")
