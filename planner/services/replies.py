"""Inbound mail: calendar replies answer invitations like the RSVP link does; delivery reports mark bounces.

Every message gets one InboundMail row saying whether it was applied, ignored or rejected, and why. Whatever
the message holds, every value written or looked up is cut to its column's length and cleaned of control
characters first, so that bad mail is logged and never makes the database refuse the transaction.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_string, policy
from email.utils import getaddresses

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..bounces import Bounce, read_bounce
from ..ical import Reply, read_calendar_method, read_replies
from ..models import Event, InboundMail, Invitation, OutgoingMail, Person
from ..text import control_problem, one_line
from ..tokens import TokenError, hash_reply_token
from .mails import MailSettings
from .rsvp import COMMENT_LENGTH, AnswerError, closed_on, is_late, record_answer

APPLIED, IGNORED, REJECTED = "applied", "ignored", "rejected"
#: a calendar's PARTSTAT as the answer words record_answer takes
PARTSTAT_ANSWERS = {"ACCEPTED": "yes", "DECLINED": "no", "TENTATIVE": "maybe"}
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
#: the largest SEQUENCE that Invitation.reply_sequence (a 32-bit Integer) holds
MAX_SEQUENCE = 2**31 - 1
#: longest reason kept (the column is Text); a comment keeps the answer service's COMMENT_LENGTH
REASON_LENGTH = 1000


@dataclass(frozen=True)
class Outcome:
    """What was done with one inbound message."""

    outcome: str
    reason: str
    invitation: Invitation | None = None


def ingest(
    session: Session, raw: bytes, settings: MailSettings, now: datetime, recipients: tuple[str, ...] = ()
) -> InboundMail:
    """Apply one raw RFC 5322 message (a calendar reply or a bounce) and log the outcome; never raises on bad mail."""
    headers = _headers(raw)
    return _log(session, headers, now, _decide(session, raw, headers, settings, now, recipients))


def log_refused(session: Session, raw: bytes, now: datetime, reason: str) -> InboundMail:
    """Log a message as rejected without applying it (when the database refused what applying it wrote)."""
    return _log(session, _headers(raw), now, Outcome(REJECTED, reason))


def _log(session: Session, headers, now: datetime, outcome: Outcome) -> InboundMail:
    entry = InboundMail(
        received_at=now,
        message_id=_line(headers.get("Message-ID"), 255),
        sender=_line(_first_address(headers.get_all("From") or []), 254),
        invitation_id=outcome.invitation.id if outcome.invitation else None,
        outcome=outcome.outcome,
        reason=_line(outcome.reason, REASON_LENGTH) or outcome.outcome,
    )
    session.add(entry)
    session.flush()
    return entry


def _headers(raw: bytes):
    """Parse only the header block, bytes that are not UTF-8 replaced (compat32: never raises on odd headers)."""
    block = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return message_from_string(block.decode("utf-8", "replace"), policy=policy.compat32)


def _line(value, limit: int) -> str | None:
    """Return value as one line of UTF-8 without control characters, cut to limit characters; None when empty."""
    return one_line(_utf8(str(value or "")))[:limit].strip() or None


def _text(value: str | None, limit: int) -> str | None:
    """Return a multi-line text of UTF-8 without control characters other than line feeds, cut to limit characters."""
    lines = (one_line(line) for line in _utf8(value or "").splitlines())
    return "\n".join(lines).strip()[:limit].strip() or None


def _utf8(value: str) -> str:
    """Return value with what UTF-8 cannot encode (lone surrogates, from odd charsets) replaced."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _lookup_values(values) -> list[str]:
    """Return the values that can equal a stored one (clean UTF-8, no control characters, not overlong)."""
    return [value for value in values if value and len(value) <= 255 and _utf8(value) == value and control_problem(value) is None]


def _first_address(values: list) -> str:
    return next((address for _, address in getaddresses([str(v) for v in values]) if "@" in address), "")


def _decide(session, raw, headers, settings, now, recipients) -> Outcome:
    bounce = read_bounce(raw)
    if bounce is not None:
        return _apply_bounce(session, bounce, now)
    replies = read_replies(raw)
    if not replies:
        method = read_calendar_method(raw)
        if method is None:
            return Outcome(REJECTED, "not a calendar reply: the message carries no calendar")
        if method == "REPLY":
            return Outcome(REJECTED, "the REPLY answers nothing: no event with a UID and an attendee's PARTSTAT")
        return Outcome(REJECTED, f"not a REPLY: the calendar says METHOD:{method or '(none)'}")
    reply_domain = settings.reply_domain
    tokens = reply_tokens(list(recipients) + _header_addresses(headers), reply_domain)
    if not tokens:
        return Outcome(REJECTED, f"not addressed to a reply address rsvp+…@{reply_domain}")
    invitation = _invitation_for(session, tokens)
    if invitation is None:
        return Outcome(REJECTED, "unknown reply address (no invitation has that token)")
    return _apply_reply(session, invitation, replies, now, settings)


def _header_addresses(headers) -> list[str]:
    values = [str(value) for name in ADDRESS_HEADERS for value in headers.get_all(name) or []]
    return [address for _, address in getaddresses(values)]


def reply_tokens(addresses: list[str], reply_domain: str) -> list[str]:
    """Return the tokens of the addresses of the form rsvp+<token>@reply_domain (any letter case)."""
    pattern = re.compile(rf"^rsvp\+([^@]+)@{re.escape(reply_domain)}$", re.IGNORECASE)
    matches = (pattern.match(address.strip().strip("<>")) for address in addresses)
    return list(dict.fromkeys(match.group(1).lower() for match in matches if match))


def _invitation_for(session: Session, tokens: list[str]) -> Invitation | None:
    hashes = []
    for token in tokens:
        try:
            hashes.append(hash_reply_token(token))
        except TokenError:
            continue
    if not hashes:
        return None
    return session.scalars(select(Invitation).where(Invitation.reply_token_hash.in_(hashes))).first()


def _apply_reply(
    session: Session, invitation: Invitation, replies: list[Reply], now: datetime, settings: MailSettings
) -> Outcome:
    event, email = invitation.event, invitation.person.email.lower()
    for_event = [reply for reply in replies if reply.uid == event.uid]
    if not for_event:
        return Outcome(REJECTED, f"the reply is about another event (UID {replies[0].uid})", invitation)
    mine = [reply for reply in for_event if reply.attendee == email]
    if not mine:
        others = ", ".join(sorted({reply.attendee for reply in for_event}))
        return Outcome(REJECTED, f"the reply answers for {others}, not for the invitee {email}", invitation)
    reply = mine[-1]
    if reply.sequence > MAX_SEQUENCE:
        return Outcome(REJECTED, f"the reply's SEQUENCE is out of range (more than {MAX_SEQUENCE})", invitation)
    if reply.partstat not in PARTSTAT_ANSWERS:
        return Outcome(REJECTED, f"{reply.partstat} is not supported; the invitee can answer with the link", invitation)
    latest = max(event.sequence, invitation.reply_sequence or 0)
    if reply.sequence < latest:
        reason = f"outdated: the reply is for SEQUENCE {reply.sequence}, the invitation is at {latest}"
        return Outcome(IGNORED, reason, invitation)
    if is_late(event, now):
        return Outcome(IGNORED, f"late: answers closed on {closed_on(event)}", invitation)
    answer = PARTSTAT_ANSWERS[reply.partstat]
    try:
        changed = record_answer(session, invitation, answer, now, _text(reply.comment, COMMENT_LENGTH), settings=settings,
                                via="calendar reply")
    except AnswerError as error:
        return Outcome(REJECTED, str(error), invitation)
    invitation.reply_sequence = reply.sequence
    if not changed:
        return Outcome(IGNORED, f"already recorded: {invitation.answer}", invitation)
    return Outcome(APPLIED, f"answer {invitation.answer} ({reply.partstat})", invitation)


def _apply_bounce(session: Session, bounce: Bounce, now: datetime) -> Outcome:
    invitation = _bounced_invitation(session, bounce)
    failed = _line(", ".join(bounce.recipients), 500) or "unknown recipient"
    if invitation is None:
        return Outcome(REJECTED, f"delivery failure report for {failed} matches no invitation")
    invitation.bounced_at = now
    invitation.bounce_reason = f"delivery to {failed} failed"
    session.flush()
    return Outcome(APPLIED, f"bounced: {invitation.bounce_reason}", invitation)


def _bounced_invitation(session: Session, bounce: Bounce) -> Invitation | None:
    """Match by the returned message's Message-ID, else by failed recipient and calendar UID."""
    bare = (bounce.message_id or "").strip().strip("<>")
    message_ids = _lookup_values([bare, f"<{bare}>"] if bare else [])
    if message_ids:
        invitation_id = session.scalar(select(OutgoingMail.invitation_id).where(OutgoingMail.message_id.in_(message_ids)))
        if invitation_id is not None:
            return session.get(Invitation, invitation_id)
    recipients, uids = _lookup_values(bounce.recipients), _lookup_values(bounce.uids)
    if not (recipients and uids):
        return None
    return session.scalars(
        select(Invitation)
        .join(Person, Invitation.person_id == Person.id)
        .join(Event, Invitation.event_id == Event.id)
        .where(Person.email.in_(recipients), Event.uid.in_(uids))
    ).first()


def recent_inbound(session: Session, event_id: int, limit: int = 20) -> list[InboundMail]:
    """Return the newest inbound messages tied to an event's invitations."""
    query = (
        select(InboundMail)
        .join(Invitation, InboundMail.invitation_id == Invitation.id)
        .where(Invitation.event_id == event_id)
        .order_by(InboundMail.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
