"""Mail out and in: the outbox, inbound replies, reminders, digests, feedback mails, calendar feeds."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .events import Invitation


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
    """An alert to the event's organisers that it filled or that everyone answered, once per event and kind."""

    __table_args__ = (UniqueConstraint("event_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    kind: Mapped[AlertKind] = mapped_column(String(20))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the first of its mails (the owner's when they get one); None when every organiser's digest is off (settled, no mail)
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


class CalendarFeed(db.Model):
    """A private calendar feed: an organiser's events or one person's invitations; revoked by deleting the row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id"), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), unique=True)
    #: random seed that, with the secret key, rebuilds the feed URL's token; rotating replaces it
    token_seed: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
