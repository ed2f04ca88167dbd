"""The persistent outbox: claim queued mail, hand it to a transport, record the outcome.

Unlike the services, these functions own their transactions: each claim and each outcome is
committed at once, so a crash can at worst send a message twice (same Message-ID), never lose one.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .mail import MailConfigError, PermanentMailError, TemporaryMailError, retry_delay
from .models import MailState, OutgoingMail, utcnow

STALE_CLAIM = timedelta(minutes=15)
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
    """Put back messages whose sender vanished mid-send (a crashed worker); return how many."""
    result = session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.state == MailState.SENDING, OutgoingMail.claimed_at < now - STALE_CLAIM)
        .values(state=MailState.RETRY, claimed_by=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount


def claim_batch(session: Session, now: datetime, limit: int, *, event_id: int | None = None) -> list[OutgoingMail]:
    """Mark up to limit due messages as being sent by this run and return them; safe with several workers."""
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
    return list(session.scalars(select(OutgoingMail).where(OutgoingMail.claimed_by == worker).order_by(OutgoingMail.id)))


def deliver(session: Session, transport, *, limit: int = 500, event_id: int | None = None) -> DeliveryReport:
    """Send what is due through transport (one connection for the batch) and record each outcome."""
    report = DeliveryReport()
    now = utcnow()
    release_stale_claims(session, now)
    batch = claim_batch(session, now, limit, event_id=event_id)
    if not batch:
        return report
    try:
        with transport:
            for position, mail in enumerate(batch):
                try:
                    transport.send(mail.raw, sender=mail.sender, recipients=[mail.recipient])
                except MailConfigError as error:
                    for waiting in batch[position:]:
                        _retry(waiting, str(error), report, count_attempt=False)
                    session.commit()
                    report.errors.append(str(error))
                    return report
                except TemporaryMailError as error:
                    _retry(mail, str(error), report)
                except PermanentMailError as error:
                    _fail(mail, str(error), report)
                else:
                    _sent(mail, report)
                session.commit()
    except TemporaryMailError as error:
        _give_back(session, batch, str(error), report)
    return report


def _sent(mail: OutgoingMail, report: DeliveryReport) -> None:
    mail.state = MailState.SENT
    mail.sent_at = utcnow()
    mail.claimed_by = None
    mail.last_error = None
    report.sent += 1


def _retry(mail: OutgoingMail, error: str, report: DeliveryReport, *, count_attempt: bool = True) -> None:
    if count_attempt:
        mail.attempts += 1
    delay = retry_delay(mail.attempts) if count_attempt else timedelta(minutes=1)
    mail.last_error = error[:2000]
    mail.claimed_by = None
    if delay is None:
        mail.state = MailState.FAILED
        report.failed += 1
        return
    mail.state = MailState.RETRY
    mail.next_attempt_at = utcnow() + delay
    report.retry += 1


def _fail(mail: OutgoingMail, error: str, report: DeliveryReport) -> None:
    mail.attempts += 1
    mail.state = MailState.FAILED
    mail.last_error = error[:2000]
    mail.claimed_by = None
    report.failed += 1


def _give_back(session: Session, batch: list[OutgoingMail], error: str, report: DeliveryReport) -> None:
    session.rollback()
    for mail in batch:
        session.refresh(mail)
        if mail.state == MailState.SENDING:
            _retry(mail, error, report)
    report.errors.append(error)
    session.commit()


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
        OutgoingMail.event_id == event_id, or_(OutgoingMail.state == MailState.RETRY, OutgoingMail.state == MailState.FAILED)
    )
    return list(session.scalars(query.order_by(OutgoingMail.id)))
