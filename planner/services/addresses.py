"""The reply address and RSVP link an invitee already has, for follow-up mail about the same event.

Only hashes of the tokens are stored, but the outbox keeps every message as sent, so follow-ups
read both from the invitation's first mail: calendars keep matching the same ORGANIZER and the
invitee's link keeps working. If that mail is gone (purged outbox), fresh tokens are issued and
stored; the new mail then carries working ones and the old link stops working.
"""

from dataclasses import dataclass
from email import message_from_bytes, policy

from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Invitation, OutgoingMail
from ..tokens import new_reply_token, new_token
from .invites import MailContext


@dataclass(frozen=True)
class InvitationAddresses:
    """Where an invitee's calendar replies go and where their answer page is."""

    reply_address: str
    rsvp_url: str


def invitation_addresses(session: Session, invitation: Invitation, ctx: MailContext) -> InvitationAddresses:
    """Return the addresses the invitee was first sent, or fresh ones (stored as hashes) when that mail is gone."""
    first = session.scalars(
        select(OutgoingMail.raw).where(OutgoingMail.invitation_id == invitation.id).order_by(OutgoingMail.id)
    ).first()
    found = _addresses_in(first) if first else None
    if found is not None:
        return found
    token, invitation.token_hash = new_token()
    reply_token, invitation.reply_token_hash = new_reply_token()
    return InvitationAddresses(f"rsvp+{reply_token}@{ctx.reply_domain}", f"{ctx.base_url.rstrip('/')}/rsvp/{token}")


def _addresses_in(raw: bytes) -> InvitationAddresses | None:
    """Return the ORGANIZER address and URL of the calendar in one of our own sent messages."""
    for part in message_from_bytes(raw, policy=policy.default).walk():
        if part.get_content_type() != "text/calendar":
            continue
        for vevent in Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT"):
            organizer, url = str(vevent.get("ORGANIZER", "")), str(vevent.get("URL", ""))
            if organizer.lower().startswith("mailto:") and url:
                return InvitationAddresses(organizer[7:], url)
    return None
