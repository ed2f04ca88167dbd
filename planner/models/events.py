"""What: series, events, proposals, invitations and the questions asked."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .ownership import event_co_organiser, series_co_organiser

if TYPE_CHECKING:
    from .people import Organiser, Person


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
    #: organisers who share the series and its rounds (planner.services.ownership)
    co_organisers: Mapped[list[Organiser]] = relationship(secondary=series_co_organiser, order_by="Organiser.name")
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
    #: organisers who share this event (those of its series share it too)
    co_organisers: Mapped[list[Organiser]] = relationship(secondary=event_co_organiser, order_by="Organiser.name")
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

    __table_args__ = (
        UniqueConstraint("event_id", "person_id"),
        #: the seat count (services.capacity) reads the yes, waiting and offered answers of an event from this index alone
        Index("ix_invitation_seats", "event_id", "answer", "offer_expires_at", "cancelled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: no index of its own: the unique (event_id, person_id) and ix_invitation_seats both lead with it
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"))
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
