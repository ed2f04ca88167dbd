"""Background jobs claimed from the database (seating searches)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


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
