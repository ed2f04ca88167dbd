"""Who met whom: seating plans, their seats, the pair history and reported first meetings."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .events import Invitation
    from .people import Person


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
