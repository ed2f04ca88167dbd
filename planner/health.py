"""Readiness checks: the database answers, its schema is at the newest migration, and the outbox is moving."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .models import MailState, OutgoingMail

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and a short reason that reveals nothing secret."""

    name: str
    ok: bool
    detail: str


def head_revisions() -> set[str]:
    """Return the newest migration revisions in the repository."""
    return set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def readiness(session: Session, now: datetime, *, stuck_after: timedelta) -> list[Check]:
    """Run every readiness check; a database that does not answer fails the others too."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        session.rollback()
        reason = f"unreachable ({type(error.__cause__ or error).__name__})"
        return [Check("database", False, reason), Check("migrations", False, "unknown"), Check("outbox", False, "unknown")]
    return [Check("database", True, "reachable"), _migrations(session), _outbox(session, now, stuck_after)]


def _migrations(session: Session) -> Check:
    try:
        current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        session.rollback()
        return Check("migrations", False, "not applied: run flask --app wsgi db upgrade")
    heads = head_revisions()
    if current == heads:
        return Check("migrations", True, "at head")
    return Check("migrations", False, "behind: run flask --app wsgi db upgrade")


def _outbox(session: Session, now: datetime, stuck_after: timedelta) -> Check:
    due = (OutgoingMail.state.in_((MailState.QUEUED, MailState.RETRY)), OutgoingMail.next_attempt_at <= now - stuck_after)
    late = session.scalar(select(func.count(OutgoingMail.id)).where(*due))
    if late:
        minutes = int(stuck_after.total_seconds() // 60)
        return Check("outbox", False, f"{late} messages due for over {minutes} minutes: is an outbox worker running?")
    return Check("outbox", True, "moving")
