"""What organisers hear: a mail per answer ("each") or one daily digest ("daily"), and alerts when an event fills or
everyone has answered. Each once, whatever runs race (a Digest or EventAlert row, unique, in the mail's transaction).

The daily digest is due from DIGEST_HOUR on the installation's wall clock (DEFAULT_TIMEZONE), once per local date,
and reports, per event of the organiser, new answers, waiting-list promotions (the "A seat is free" mails), bounces
and mail problems since the previous digest (at most a day back, never before the setting changed). A day with
nothing to report is settled without a mail. Every organiser of the event hears alike: its owner and its co-organisers
(of the event or of its series, services.ownership.involved_events), each once. An alert is settled once per event and
mailed in that transaction to each of them whose digest is not off.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..models import (
    AlertKind,
    Answer,
    Digest,
    DigestMode,
    Event,
    EventAlert,
    EventStatus,
    Invitation,
    MailState,
    Organiser,
    OutgoingMail,
)
from .events import zone
from .mails import SEAT_LEAD, MailSettings, queue_alert, queue_answer_notice, queue_digest
from .ownership import involved_events
from .reminders import insert_once

#: answers older than this are never announced one by one (a run that comes back after a long pause stays quiet)
ANSWER_NOTICE_WINDOW = timedelta(days=2)


@dataclass
class EventSummary:
    """One event's news in a digest."""

    event: Event
    answers: list[Invitation] = field(default_factory=list)
    promotions: list[OutgoingMail] = field(default_factory=list)
    bounces: list[Invitation] = field(default_factory=list)
    problems: list[OutgoingMail] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many items the summary holds."""
        return len(self.answers) + len(self.promotions) + len(self.bounces) + len(self.problems)


def _start(organiser: Organiser, now: datetime, window: timedelta) -> datetime:
    bound = now - window
    return max(bound, organiser.digest_since) if organiser.digest_since else bound


def digest_since(session: Session, organiser: Organiser, now: datetime) -> datetime:
    """Return where the organiser's next daily digest starts: the end of the last one, at most a day back."""
    latest = select(func.max(Digest.covers_until)).where(Digest.organiser_id == organiser.id, Digest.kind == "daily")
    last = session.scalar(latest)
    start = _start(organiser, now, timedelta(days=1))
    return max(last, start) if last else start


def summaries(session: Session, organiser_id: int, since: datetime, until: datetime) -> list[EventSummary]:
    """Return the news of the organiser's events (owned or co-organised) between since and until, per event, soonest
    event first (four queries)."""
    mine = involved_events(organiser_id)
    by_event: dict[int, EventSummary] = {}

    def summary(event: Event) -> EventSummary:
        return by_event.setdefault(event.id, EventSummary(event))

    invitations = select(Invitation).join(Invitation.event).where(mine).options(
        joinedload(Invitation.event), joinedload(Invitation.person)
    ).order_by(Invitation.id)
    answered = invitations.where(Invitation.answered_at > since, Invitation.answered_at <= until,
                                 Invitation.answer != Answer.PENDING, Invitation.cancelled_at.is_(None))
    for invitation in session.scalars(answered):
        summary(invitation.event).answers.append(invitation)
    for invitation in session.scalars(invitations.where(Invitation.bounced_at > since, Invitation.bounced_at <= until)):
        summary(invitation.event).bounces.append(invitation)
    mails = select(OutgoingMail, Event).join(Event, OutgoingMail.event_id == Event.id).where(mine).order_by(OutgoingMail.id)
    promoted = mails.where(OutgoingMail.subject.startswith(SEAT_LEAD), OutgoingMail.created_at > since,
                           OutgoingMail.created_at <= until)
    for mail, event in session.execute(promoted):
        summary(event).promotions.append(mail)
    troubled = mails.where(or_(OutgoingMail.state == MailState.RETRY,
                               (OutgoingMail.state == MailState.FAILED) & (OutgoingMail.created_at > since)))
    for mail, event in session.execute(troubled):
        summary(event).problems.append(mail)
    return sorted(by_event.values(), key=lambda item: (item.event.starts_at, item.event.id))


def digest_key(now: datetime, timezone: str) -> str:
    """Return the daily digest's key: the local date on the installation's wall clock."""
    return now.astimezone(zone(timezone)).date().isoformat()


def due_daily(session: Session, now: datetime, *, hour: int, timezone: str) -> list[int]:
    """Return the organisers whose daily digest for today is due and not settled yet."""
    if now.astimezone(zone(timezone)).hour < hour:
        return []
    settled = select(Digest.id).where(Digest.organiser_id == Organiser.id, Digest.kind == "daily",
                                      Digest.key == digest_key(now, timezone)).exists()
    query = select(Organiser.id).where(Organiser.digest == DigestMode.DAILY, Organiser.is_active.is_(True), ~settled)
    query = query.order_by(Organiser.id)
    return list(session.scalars(query))


def send_daily(session: Session, organiser_id: int, now: datetime, settings: MailSettings, *, timezone: str) -> bool:
    """Settle the organiser's digest for today and queue its mail when there is news; False when another run did it."""
    organiser = session.get(Organiser, organiser_id)
    since = digest_since(session, organiser, now)
    news = summaries(session, organiser_id, since, now)
    digest_id = insert_once(session, Digest, organiser_id=organiser_id, kind="daily", key=digest_key(now, timezone),
                            covers_until=now)
    if digest_id is None:
        return False
    if news:
        mail = queue_digest(session, organiser, news, settings, now, since=since)
        session.flush()
        session.get(Digest, digest_id).mail_id = mail.id
    return True


def _answer_key(invitation_id: int, answered_at: datetime) -> str:
    return f"{invitation_id}@{answered_at:%Y%m%dT%H%M%S.%f}"


def due_answer_notices(session: Session, now: datetime) -> list[tuple[int, int, str]]:
    """Return (organiser id, invitation id, key) for each recent answer and each organiser of its event who wants each."""
    rows = session.execute(
        select(Organiser, Invitation.id, Invitation.answered_at).select_from(Organiser).join(Event, involved_events(Organiser.id))
        .join(Invitation, Invitation.event_id == Event.id)
        .where(Organiser.digest == DigestMode.EACH, Organiser.is_active.is_(True), Invitation.answer != Answer.PENDING,
               Invitation.cancelled_at.is_(None), Invitation.answered_at > now - ANSWER_NOTICE_WINDOW, Invitation.answered_at <= now)
        .order_by(Invitation.answered_at, Invitation.id)
    ).all()
    announced = set(session.execute(
        select(Digest.organiser_id, Digest.key)
        .where(Digest.kind == "answer", Digest.covers_until > now - ANSWER_NOTICE_WINDOW - timedelta(days=1))
    ).all())
    due = []
    for organiser, invitation_id, answered_at in rows:
        key = _answer_key(invitation_id, answered_at)
        if answered_at > _start(organiser, now, ANSWER_NOTICE_WINDOW) and (organiser.id, key) not in announced:
            due.append((organiser.id, invitation_id, key))
    return due


def send_answer_notice(session: Session, organiser_id: int, invitation_id: int, key: str, now: datetime,
                       settings: MailSettings) -> bool:
    """Queue the mail about one answer, once; False when it was already queued (or the answer changed meanwhile)."""
    invitation = session.get(Invitation, invitation_id)
    if _answer_key(invitation_id, invitation.answered_at) != key:
        return False
    notice_id = insert_once(session, Digest, organiser_id=organiser_id, kind="answer", key=key,
                            covers_until=invitation.answered_at)
    if notice_id is None:
        return False
    mail = queue_answer_notice(session, invitation, session.get(Organiser, organiser_id), settings, now)
    session.flush()
    session.get(Digest, notice_id).mail_id = mail.id
    return True


@dataclass(frozen=True)
class Counts:
    """An event's answers for an alert: seats, yes, still waiting for an answer, invitees who can answer."""

    capacity: int
    yes: int
    pending: int
    reachable: int


def due_alerts(session: Session, now: datetime) -> list[tuple[int, AlertKind, Counts]]:
    """Return (event id, kind, counts) for each alert due: an upcoming sent event full, or answered by everyone."""
    rows = session.execute(
        select(Event.id, Event.capacity, Invitation.answer, Invitation.bounced_at.is_(None), func.count(Invitation.id))
        .join(Invitation, Invitation.event_id == Event.id)
        .where(Event.status == EventStatus.SENT, Event.starts_at > now, Invitation.cancelled_at.is_(None))
        .group_by(Event.id, Event.capacity, Invitation.answer, Invitation.bounced_at.is_(None))
    ).all()
    tallies: dict[int, dict] = defaultdict(lambda: {"capacity": 0, "yes": 0, "pending": 0, "reachable": 0})
    for event_id, capacity, answer, reachable, count in rows:
        tally = tallies[event_id]
        tally["capacity"] = capacity
        tally["yes"] += count if answer == Answer.YES else 0
        tally["pending"] += count if answer == Answer.PENDING and reachable else 0
        tally["reachable"] += count if reachable else 0
    settled = set(session.execute(select(EventAlert.event_id, EventAlert.kind).where(EventAlert.event_id.in_(tallies))).all())
    due = []
    for event_id, tally in sorted(tallies.items()):
        counts = Counts(**tally)
        if counts.capacity > 0 and counts.yes >= counts.capacity and (event_id, AlertKind.FULL) not in settled:
            due.append((event_id, AlertKind.FULL, counts))
        if counts.reachable and not counts.pending and (event_id, AlertKind.ALL_ANSWERED) not in settled:
            due.append((event_id, AlertKind.ALL_ANSWERED, counts))
    return due


def send_alert(session: Session, event_id: int, kind: AlertKind, counts: Counts, now: datetime,
               settings: MailSettings) -> bool:
    """Settle one alert and queue its mail to each of the event's organisers whose digest is on; False if another run did it."""
    alert_id = insert_once(session, EventAlert, event_id=event_id, kind=kind, queued_at=now)
    if alert_id is None:
        return False
    event = session.get(Event, event_id)
    recipients = session.scalars(
        select(Organiser).join(Event, involved_events(Organiser.id))
        .where(Event.id == event_id, Organiser.digest != DigestMode.OFF, Organiser.is_active.is_(True))
        .order_by(Organiser.id != Event.organiser_id, Organiser.id)  # the owner first
    ).all()
    mails = [queue_alert(session, event, organiser, kind, settings, now, counts=counts) for organiser in recipients]
    if mails:
        session.flush()
        session.get(EventAlert, alert_id).mail_id = mails[0].id
    return True
