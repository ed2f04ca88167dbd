"""Recording changes in the audit log: one call per change, in the transaction that makes it."""

from sqlalchemy.orm import Session

from ..models import AuditEntry, Organiser
from ..text import one_line

#: actors that are not an organiser
INVITEE = "invitee"
COMMAND_LINE = "command line"
SCIM = "SCIM"
SYSTEM = "system"


def record(
    session: Session,
    action: str,
    *,
    organiser: Organiser | None = None,
    actor: str = SYSTEM,
    subject: tuple[str, int | None] | None = None,
    summary: str = "",
    remote_addr: str | None = None,
) -> AuditEntry:
    """Add one audit entry (an organiser's change, or one by an invitee, a command or the system); never personal notes."""
    subject_type, subject_id = subject if subject else (None, None)
    entry = AuditEntry(
        organiser_id=organiser.id if organiser else None,
        actor=organiser.email if organiser else actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        summary=one_line(summary)[:500],
        remote_addr=remote_addr,
    )
    session.add(entry)
    return entry
