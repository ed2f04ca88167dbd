"""The audit log: one record() call per change, in the transaction that makes it, and the filtered reading of it."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from ..models import AuditEntry, Organiser
from ..text import one_line

#: actors that are not an organiser
INVITEE = "invitee"
COMMAND_LINE = "command line"
SCIM = "SCIM"
SYSTEM = "system"
#: someone not logged in, such as a failed login (the email typed is the summary)
VISITOR = "visitor"

#: every action the app records (the admin page's choice; a test checks each recording names one of these)
ACTIONS = (
    "auth.login", "auth.login_failed", "auth.logout",
    "organiser.create", "organiser.role", "organiser.activate", "organiser.deactivate",
    "account.notifications", "feed.new", "feed.revoke",
    "people.import", "scim.create", "scim.update", "scim.delete", "person.opt_in", "person.opt_out", "person.leave", "person.export", "person.erase", "privacy.retain",
    "event.create", "event.edit", "event.cancel", "event.delete", "event.send", "event.planning_mode",
    "event.co_organiser_added", "event.co_organiser_removed", "series.co_organiser_added", "series.co_organiser_removed",
    "event.handed_over", "series.handed_over",
    "proposal.propose", "proposal.add", "proposal.remove", "proposal.exclude", "proposal.replace", "proposal.must",
    "proposal.allow",
    "invitation.withdraw", "invitation.replace", "invitation.backfill", "offer.run", "mail.resend",
    "answer.record",
    "seating.make", "seating.move", "seating.publish", "seating.record", "attendance.record", "feedback.switch",
    "series.create", "series.edit", "series.skip", "series.move", "series.end", "series.round", "series.send",
    "question.add", "question.edit", "question.delete",
    "export.download",
)
#: entries per page of the admin page
PAGE_SIZE = 50


#: built once: the entry written at once by record_now (the table's, not the mapper's insert: no ORM bulk machinery)
_INSERT = insert(AuditEntry.__table__)


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
    entry = AuditEntry(**_columns(action, organiser, actor, subject, summary, remote_addr))
    session.add(entry)
    return entry


def record_now(session: Session, action: str, *, actor: str, subject: tuple[str, int | None], summary: str = "") -> None:
    """Write one audit entry by an invitee, a command or the system with one INSERT at once, not a flush at commit (the
    answer path, the busiest write of the app); same columns as record()."""
    session.connection().execute(_INSERT, _columns(action, None, actor, subject, summary, None))


def _columns(action: str, organiser: Organiser | None, actor: str, subject: tuple[str, int | None] | None, summary: str,
             remote_addr: str | None) -> dict:
    subject_type, subject_id = subject if subject else (None, None)
    return {
        "organiser_id": organiser.id if organiser else None,
        "actor": organiser.email if organiser else actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "summary": one_line(summary)[:500],
        "remote_addr": remote_addr,
    }


@dataclass(frozen=True)
class AuditFilter:
    """What the admin page narrows the log to; None or "" means any."""

    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: int | None = None
    since: datetime | None = None  #: inclusive
    until: datetime | None = None  #: exclusive

    def query(self) -> Select:
        """Return the entries that match, newest first."""
        query = select(AuditEntry)
        if self.actor:
            query = query.where(func.lower(AuditEntry.actor).contains(self.actor.strip().lower(), autoescape=True))
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.subject_type:
            query = query.where(AuditEntry.subject_type == self.subject_type)
        if self.subject_id is not None:
            query = query.where(AuditEntry.subject_id == self.subject_id)
        if self.since is not None:
            query = query.where(AuditEntry.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.at < self.until)
        return query.order_by(AuditEntry.id.desc())


@dataclass(frozen=True)
class AuditPage:
    """One page of the log: its entries and the id to continue before, None on the last page."""

    entries: list[AuditEntry]
    next_before: int | None


def page_of(session: Session, wanted: AuditFilter, *, before: int | None = None, size: int = PAGE_SIZE) -> AuditPage:
    """Return the matching entries older than entry `before` (keyset paging: one query whatever the log's length)."""
    query = wanted.query()
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(session.scalars(query.limit(size + 1)))
    return AuditPage(rows[:size], rows[size - 1].id if len(rows) > size else None)


#: the columns of the CSV export
CSV_HEADER = ("at (UTC)", "actor", "action", "object", "object id", "summary", "address")


def csv_rows(session: Session, wanted: AuditFilter, *, batch: int = 1000) -> Iterator[tuple]:
    """Yield every matching entry as a CSV row, newest first, reading the log in batches."""
    for entry in session.scalars(wanted.query().execution_options(yield_per=batch)):
        yield (entry.at.isoformat(timespec="seconds"), entry.actor, entry.action, entry.subject_type or "",
               "" if entry.subject_id is None else entry.subject_id, entry.summary, entry.remote_addr or "")
