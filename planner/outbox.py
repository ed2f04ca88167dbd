"""The persistent outbox: claim queued mail, hand it to a transport, record the outcome.

Unlike the services, these functions own their transactions: a claim is committed before sending
and outcomes are committed in small groups, so a crash can at worst send a message twice (same
Message-ID: a stale claim is retried), never lose one.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from .mail import MailConfigError, PermanentMailError, TemporaryMailError, retry_delay
from .models import MailState, OutgoingMail, utcnow

STALE_CLAIM = timedelta(minutes=15)
#: outcomes are committed in small groups: a crash in between can only cause duplicates (same Message-ID)
COMMIT_EVERY = 50
COMMIT_SECONDS = 2.0
READY = (MailState.QUEUED, MailState.RETRY)


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retry} to retry, {self.failed} failed"


def release_stale_claims(session: Session, now: datetime) -> int:
    """Put back messages whose sender vanished mid-send (a crashed worker); return how many (the caller commits)."""
    result = session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.state == MailState.SENDING, OutgoingMail.claimed_at < now - STALE_CLAIM)
        .values(state=MailState.RETRY, claimed_by=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


CLAIMED_COLUMNS = (OutgoingMail.id, OutgoingMail.raw, OutgoingMail.sender, OutgoingMail.recipient, OutgoingMail.attempts)


def claim_batch(session: Session, now: datetime, limit: int, *, event_id: int | None = None) -> list[Row]:
    """Put back stale claims, then mark up to limit due messages as being sent by this run and return them.

    Safe with several workers; both happen in one committed transaction.
    """
    release_stale_claims(session, now)
    due = select(OutgoingMail.id).where(OutgoingMail.state.in_(READY), OutgoingMail.next_attempt_at <= now)
    if event_id is not None:
        due = due.where(OutgoingMail.event_id == event_id)
    due = due.order_by(OutgoingMail.id).limit(limit)
    worker = uuid.uuid4().hex
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(due.with_for_update(skip_locked=True)))
        condition = OutgoingMail.id.in_(ids)
    else:
        condition = OutgoingMail.id.in_(due.scalar_subquery())
    session.execute(
        update(OutgoingMail)
        .where(condition, OutgoingMail.state.in_(READY))
        .values(state=MailState.SENDING, claimed_at=now, claimed_by=worker)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    claimed = select(*CLAIMED_COLUMNS).where(OutgoingMail.claimed_by == worker).order_by(OutgoingMail.id)
    return list(session.execute(claimed))


def deliver(session: Session, transport, *, limit: int = 500, event_id: int | None = None) -> DeliveryReport:
    """Send what is due through transport (one connection for the batch) and record each outcome."""
    report = DeliveryReport()
    batch = claim_batch(session, utcnow(), limit, event_id=event_id)
    sent: list[int] = []
    last_commit = time.monotonic()
    with transport:
        for position, mail in enumerate(batch):
            try:
                transport.send(mail.raw, sender=mail.sender, recipients=[mail.recipient])
            except MailConfigError as error:
                _put_back(session, batch[position:], str(error), report)
                break
            except TemporaryMailError as error:
                _retry(session, mail, str(error), report)
                if not transport.is_connected:
                    _put_back(session, batch[position + 1 :], str(error), report)
                    break
            except PermanentMailError as error:
                _record(session, mail.id, state=MailState.FAILED, attempts=mail.attempts + 1, last_error=str(error)[:2000])
                report.failed += 1
            else:
                sent.append(mail.id)
            if len(sent) >= COMMIT_EVERY or time.monotonic() - last_commit > COMMIT_SECONDS:
                _record_sent(session, sent, report)
                last_commit = time.monotonic()
    _record_sent(session, sent, report)
    return report


def _record_sent(session: Session, sent: list[int], report: DeliveryReport) -> None:
    """Mark the listed messages sent and commit, together with any other outcome recorded so far."""
    if sent:
        session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id.in_(sent))
            .values(state=MailState.SENT, sent_at=utcnow(), claimed_by=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        report.sent += len(sent)
        sent.clear()
    session.commit()


def _record(session: Session, mail_id: int, **values) -> None:
    session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.id == mail_id)
        .values(claimed_by=None, **values)
        .execution_options(synchronize_session=False)
    )


def _put_back(session: Session, mails: list[Row], error: str, report: DeliveryReport) -> None:
    """Return untried messages to the queue without counting an attempt (the server, not they, failed)."""
    for mail in mails:
        _record(session, mail.id, state=MailState.RETRY, last_error=error[:2000], next_attempt_at=utcnow() + timedelta(minutes=1))
        report.retry += 1
    report.errors.append(error)


def _retry(session: Session, mail: Row, error: str, report: DeliveryReport) -> None:
    """Count a failed attempt: retry after the back-off delay, or fail when the retries are used up."""
    attempts = mail.attempts + 1
    delay = retry_delay(attempts)
    if delay is None:
        _record(session, mail.id, state=MailState.FAILED, attempts=attempts, last_error=error[:2000])
        report.failed += 1
        return
    _record(session, mail.id, state=MailState.RETRY, attempts=attempts, last_error=error[:2000], next_attempt_at=utcnow() + delay)
    report.retry += 1


def resend(session: Session, mail: OutgoingMail) -> None:
    """Queue a failed message again, with a fresh set of attempts and the same Message-ID."""
    if mail.state != MailState.FAILED:
        return
    mail.state = MailState.QUEUED
    mail.attempts = 0
    mail.next_attempt_at = utcnow()


def pending_errors(session: Session, event_id: int) -> list[OutgoingMail]:
    """Return the event's messages that are waiting to retry or have failed."""
    query = select(OutgoingMail).where(
        OutgoingMail.event_id == event_id, OutgoingMail.state.in_((MailState.RETRY, MailState.FAILED))
    )
    return list(session.scalars(query.order_by(OutgoingMail.id)))
