"""The persistent outbox: claim queued mail, hand it to a transport, record the outcome.

Unlike the services, these functions own their transactions: a claim is committed before sending
and each message is marked sent in its own commit as soon as the server took it, so a worker killed
mid-run can at worst send the one message it had in flight twice (same Message-ID), never lose one.
A run records its outcomes on a connection of its own (Core statements, no ORM session work per message);
the caller's session is committed before the first message goes out and stays usable.
A claim is a lease: the worker renews it while it sends, puts back what it has not sent as soon as
it is interrupted, and when it dies its claim runs out after one lease, when any worker may take
the messages again.
"""

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, case, select, update
from sqlalchemy.orm import Session

from .mail import MailConfigError, PermanentMailError, TemporaryMailError, retry_delay
from .metrics import count_mail_outcome
from .models import MailState, OutgoingMail, utcnow

DEFAULT_LEASE = timedelta(seconds=60)
#: a run renews its lease on the rest of its claim after this many seconds (or a third of the lease if shorter)
RENEW_SECONDS = 2.0
READY = (MailState.QUEUED, MailState.RETRY)
log = logging.getLogger("planner.outbox")


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retry} to retry, {self.failed} failed"


def lease_from_config(config: Mapping[str, Any]) -> timedelta:
    """Return OUTBOX_LEASE_SECONDS as a duration; raise MailConfigError unless it is 1 to 86400 seconds."""
    seconds = config.get("OUTBOX_LEASE_SECONDS", DEFAULT_LEASE.total_seconds())
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 1 <= seconds <= 86400:
        raise MailConfigError(f"OUTBOX_LEASE_SECONDS must be a number of seconds from 1 to 86400, not {seconds!r}")
    return timedelta(seconds=seconds)


def release_stale_claims(session: Session, now: datetime) -> int:
    """Put back messages whose lease ran out (their worker died mid-send); return how many (the caller commits)."""
    return _release(session, now, OutgoingMail.lease_until < now)


def _release(executor: Session | Connection, now: datetime, claim: ColumnElement[bool]) -> int:
    """Put back the messages being sent under claim: never tried ones as queued, the others to retry now."""
    result = executor.execute(
        update(OutgoingMail)
        .where(OutgoingMail.state == MailState.SENDING, claim)
        .values(
            state=case((OutgoingMail.attempts == 0, MailState.QUEUED), else_=MailState.RETRY),
            claimed_by=None, lease_until=None, next_attempt_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


CLAIMED_COLUMNS = (OutgoingMail.id, OutgoingMail.raw, OutgoingMail.sender, OutgoingMail.recipient, OutgoingMail.attempts,
                   OutgoingMail.message_id)


def claim_batch(session: Session, now: datetime, limit: int, *, event_id: int | None = None,
                lease: timedelta = DEFAULT_LEASE, worker: str | None = None) -> list[Row]:
    """Put back expired claims, then lease up to limit due messages to worker until now + lease and return them.

    Safe with several workers; both happen in one committed transaction.
    """
    release_stale_claims(session, now)
    due = select(OutgoingMail.id).where(OutgoingMail.state.in_(READY), OutgoingMail.next_attempt_at <= now)
    if event_id is not None:
        due = due.where(OutgoingMail.event_id == event_id)
    due = due.order_by(OutgoingMail.id).limit(limit)
    worker = worker or uuid.uuid4().hex
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(due.with_for_update(skip_locked=True)))
        condition = OutgoingMail.id.in_(ids)
    else:
        condition = OutgoingMail.id.in_(due.scalar_subquery())
    session.execute(
        update(OutgoingMail)
        .where(condition, OutgoingMail.state.in_(READY))
        .values(state=MailState.SENDING, claimed_at=now, claimed_by=worker, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    claimed = select(*CLAIMED_COLUMNS).where(OutgoingMail.claimed_by == worker).order_by(OutgoingMail.id)
    return list(session.execute(claimed))


def deliver(session: Session, transport, *, limit: int = 500, event_id: int | None = None,
            lease: timedelta = DEFAULT_LEASE) -> DeliveryReport:
    """Send what is due through transport (one connection for the batch) and record each outcome.

    The claim is renewed as the run goes; if the run is interrupted (KeyboardInterrupt, SystemExit),
    what it has not sent goes back to the queue before the exception propagates.
    """
    worker, claimed_at = uuid.uuid4().hex, time.monotonic()
    batch = claim_batch(session, utcnow(), limit, event_id=event_id, lease=lease, worker=worker)
    session.commit()  # the claim's read ends here: the run works on its own connection
    if not batch:
        return DeliveryReport()
    with session.get_bind().connect() as connection:
        run = _Run(connection, worker, lease, held={mail.id for mail in batch}, last_renewal=claimed_at)
        with transport:
            try:
                _send_batch(run, transport, batch)
            except BaseException:
                run.abandon()
                raise
        run.finish()
    return run.report


def _send_batch(run: "_Run", transport, batch: list[Row]) -> None:
    for position, mail in enumerate(batch):
        if run.renewal_due():
            run.renew()
        if mail.id not in run.held:
            continue  # our lease ran out (a send took longer than it) and another worker took the message
        try:
            transport.send(mail.raw, sender=mail.sender, recipients=[mail.recipient])
        except MailConfigError as error:
            run.put_back(batch[position:], error)
            return
        except TemporaryMailError as error:
            run.retry(mail, error)
            if not transport.is_connected:
                run.put_back(batch[position + 1 :], error)
                return
        except PermanentMailError as error:
            run.record(mail.id, state=MailState.FAILED, attempts=mail.attempts + 1, last_error=str(error)[:2000])
            run.report.failed += 1
            outcome(mail, MailState.FAILED, mail.attempts + 1, error)
        else:
            run.mark_sent(mail.id)
            outcome(mail, MailState.SENT, mail.attempts + 1)


def outcome(mail: Row, state: MailState, attempts: int, error: Exception | None = None) -> None:
    """Log what became of one message (one JSON line with LOG_FORMAT = "json") and count it for the metrics."""
    count_mail_outcome(state)
    fields = {"message_id": mail.message_id, "state": str(state), "attempts": attempts,
              "error_class": type(error).__name__ if error else None}
    log.log(logging.WARNING if error else logging.INFO, "mail %s", state, extra=fields)


#: one Core statement built once: a run executes it after every message it sends
MARK_SENT = (
    update(OutgoingMail.__table__)
    .where(OutgoingMail.__table__.c.id == bindparam("mail_id"))
    .values(state=MailState.SENT, sent_at=bindparam("sent_at"), claimed_by=None, lease_until=None, last_error=None)
)


@dataclass
class _Run:
    """One delivery run: the connection it records on, its worker id and lease, the messages it still holds, what it did."""

    connection: Connection
    worker: str
    lease: timedelta
    held: set[int]
    last_renewal: float  # time.monotonic() of the claim or its last renewal
    report: DeliveryReport = field(default_factory=DeliveryReport)

    def renewal_due(self) -> bool:
        """Whether a third of the lease (at most RENEW_SECONDS) has gone by since the last renewal."""
        return time.monotonic() - self.last_renewal >= min(RENEW_SECONDS, self.lease.total_seconds() / 3)

    def renew(self) -> None:
        """Renew the lease on the rest of the claim and commit; what another worker took meanwhile is no longer held.

        Between renewals the claim cannot have run out (a renewal is due after a third of the lease), so the
        messages held stay ours.
        """
        renew = (
            update(OutgoingMail)
            .where(OutgoingMail.claimed_by == self.worker, OutgoingMail.state == MailState.SENDING)
            .values(lease_until=utcnow() + self.lease)
            .returning(OutgoingMail.id)
        )
        self.held = set(self.connection.scalars(renew))
        self.last_renewal = time.monotonic()
        self.connection.commit()

    def mark_sent(self, mail_id: int) -> None:
        """Mark a message sent and commit at once (even if our lease ran out meanwhile: it did leave)."""
        self.connection.execute(MARK_SENT, {"mail_id": mail_id, "sent_at": utcnow()})
        self.connection.commit()
        self.report.sent += 1

    def finish(self) -> None:
        """Commit the outcomes recorded since the last commit (each sent message is committed already)."""
        self.connection.commit()

    def abandon(self) -> None:
        """Put the rest of the claim back at once (the run was interrupted)."""
        try:
            self.connection.commit()  # the outcomes recorded so far
            _release(self.connection, utcnow(), OutgoingMail.claimed_by == self.worker)
            self.connection.commit()
        except Exception:
            self.connection.rollback()  # the lease runs out instead

    def record(self, mail_id: int, **values) -> None:
        """Record an outcome of a message this run still holds."""
        self.connection.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == mail_id, OutgoingMail.claimed_by == self.worker)
            .values(claimed_by=None, lease_until=None, **values)
        )

    def put_back(self, mails: list[Row], error: Exception) -> None:
        """Return untried messages to the queue without counting an attempt (the server, not they, failed)."""
        later = utcnow() + timedelta(minutes=1)
        for mail in mails:
            if mail.id in self.held:
                self.record(mail.id, state=MailState.RETRY, last_error=str(error)[:2000], next_attempt_at=later)
                self.report.retry += 1
                outcome(mail, MailState.RETRY, mail.attempts, error)
        self.report.errors.append(str(error))

    def retry(self, mail: Row, error: Exception) -> None:
        """Count a failed attempt: retry after the back-off delay, or fail when the retries are used up."""
        attempts = mail.attempts + 1
        delay = retry_delay(attempts)
        state = MailState.RETRY if delay is not None else MailState.FAILED
        outcome(mail, state, attempts, error)
        if delay is None:
            self.record(mail.id, state=MailState.FAILED, attempts=attempts, last_error=str(error)[:2000])
            self.report.failed += 1
            return
        self.record(mail.id, state=MailState.RETRY, attempts=attempts, last_error=str(error)[:2000],
                    next_attempt_at=utcnow() + delay)
        self.report.retry += 1


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
