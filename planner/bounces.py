"""Delivery status notifications: which recipients failed, and which of our messages and events they were about (pure)."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

from .ical import carried_uids

#: words in the Subject of a bounce from a mailer daemon that sends no machine-readable report
_FAILURE_WORDS = ("undeliver", "returned", "failure", "delivery status")
_DAEMONS = ("mailer-daemon", "postmaster")


@dataclass(frozen=True)
class Bounce:
    recipients: tuple[str, ...]  # failed addresses, lower-case
    uids: tuple[str, ...]        # calendar UIDs of the returned message
    message_id: str | None       # Message-ID of the returned message


def read_bounce(message: bytes) -> Bounce | None:
    """Return the failed recipients, calendar UIDs and Message-ID of a delivery failure report, else None; never raises."""
    try:
        mail = email.message_from_bytes(message, policy=email.policy.compat32)
        return _bounce(mail) if _is_bounce(mail) else None
    except Exception:
        return None


def _is_bounce(mail) -> bool:
    if mail.get_content_type() == "multipart/report":
        return str(mail.get_param("report-type", "")).lower() == "delivery-status"
    if any(part.get_content_type() == "message/delivery-status" for part in mail.walk()):
        return True
    sender = str(mail.get("From", "")).lower()
    return mail.get("X-Failed-Recipients") is not None or (
        any(name in sender for name in _DAEMONS)
        and any(word in str(mail.get("Subject", "")).lower() for word in _FAILURE_WORDS)
    )


def _bounce(mail) -> Bounce | None:
    recipients, has_report = [], False
    for part in mail.walk():
        if part.get_content_type() == "message/delivery-status":
            has_report = True
            recipients += _failed_recipients(part)
    for header in mail.get_all("X-Failed-Recipients", []):
        recipients += [a.strip().lower() for a in str(header).split(",") if "@" in a]
    if has_report and not recipients:
        return None  # delayed or relayed, not failed
    original = _returned_message(mail)
    if original is None:
        return Bounce(tuple(dict.fromkeys(recipients)), (), None)
    message_id = str(original.get("Message-ID", "")).strip()
    return Bounce(tuple(dict.fromkeys(recipients)), tuple(dict.fromkeys(carried_uids(original))), message_id or None)


def _failed_recipients(report) -> list[str]:
    """Return Original-Recipient and Final-Recipient addresses of the failed blocks of a delivery-status part."""
    blocks = report.get_payload()
    if not isinstance(blocks, list):
        blocks = [email.message_from_string(b) for b in str(blocks).split("\n\n")]
    addresses = []
    for block in blocks[1:]:
        action = str(block.get("Action", "failed")).strip().lower()
        if action != "failed":
            continue
        for field in ("Original-Recipient", "Final-Recipient"):
            value = str(block.get(field, "")).split(";", 1)[-1].strip().strip("<>").lower()
            if "@" in value:
                addresses.append(value)
    return addresses


def _returned_message(mail):
    for part in mail.walk():
        if part.get_content_type() == "message/rfc822" and isinstance(part.get_payload(), list):
            return part.get_payload()[0]
        if part.get_content_type() == "text/rfc822-headers":
            return email.message_from_string(str(part.get_payload(decode=True) or b"", "utf-8", "replace"))
    return None
