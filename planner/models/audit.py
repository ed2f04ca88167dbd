"""The audit log: who changed what, and when; rows are only ever added."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class AuditEntry(db.Model):
    """One recorded change: the actor, the action, the object it touched and a short summary without personal notes."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: the organiser who acted; None for invitees, commands and the directory sync
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id", ondelete="SET NULL"), index=True)
    #: who acted, as shown: an organiser's email, "invitee", "command line", "SCIM" or "system"
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60), index=True)
    #: the kind of object touched ("event", "series", "person", "organiser", ...) and its id
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500), default="")
    remote_addr: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_changes(mapper, connection, entry: AuditEntry) -> None:
    """Keep the log append-only from the app's side: an entry is never changed or removed through the ORM."""
    raise RuntimeError(f"audit entry {entry.id} is append-only")
