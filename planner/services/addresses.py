"""The reply address and RSVP link an invitee already has, for follow-up mail about the same event.

Only hashes of the tokens are stored, but the outbox keeps every message as sent, so follow-ups
read both from the invitation's first mail: calendars keep matching the same ORGANIZER and the
invitee's link keeps working. If that mail is gone (purged outbox), fresh tokens are issued and
stored; the new mail then carries working ones and the old link stops working.
"""

from email import message_from_bytes, policy

from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Invitation, OutgoingMail
from .invites import InvitationAddresses, MailContext, issue_tokens


def invitation_addresses(session: Session, invitation: Invitation, ctx: MailContext) -> InvitationAddresses:
    """Return the addresses the invitee was first sent, or fresh ones (stored as hashes) when that mail is gone."""
    first = session.scalars(
        select(OutgoingMail.raw).where(OutgoingMail.invitation_id == invitation.id).order_by(OutgoingMail.id)
    ).first()
    found = _addresses_in(first) if first else None
    return found if found is not None else issue_tokens(invitation, ctx)


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
