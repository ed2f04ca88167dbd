"""Sending invitations: one transaction creates the invitations, their tokens and their queued mail."""

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import (
    Event,
    EventStatus,
    Invitation,
    OutgoingMail,
    Person,
    ProposalEntry,
    utcnow,
)
from .mails import MailSettings, fresh_tokens, issue_tokens, queue_invitation, queue_invitations


class InviteError(PlannerError):
    """Invitations that cannot be sent as asked."""


def send_invites(session: Session, event: Event, settings: MailSettings) -> list[OutgoingMail]:
    """Turn the event's proposal into invitations with queued mail (two bulk inserts); a second call sends nothing."""
    if not event.proposals:
        raise InviteError("Propose or add invitees before sending.")
    claimed = session.execute(
        update(Event)
        .where(Event.id == event.id, Event.status == EventStatus.DRAFT)
        .values(status=EventStatus.SENT, sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise InviteError("These invitations have already been sent.")
    session.refresh(event)
    people = session.scalars(
        select(Person).join(ProposalEntry).where(ProposalEntry.event_id == event.id).order_by(ProposalEntry.id)
    ).all()
    rows = [{"event_id": event.id, "person_id": person.id, **fresh_tokens(settings)} for person in people]
    made = {invitation.person_id: invitation for invitation in session.scalars(insert(Invitation).returning(Invitation), rows)}
    invitations = [made[person.id] for person in people]
    queued = queue_invitations(session, invitations, settings, stamp=event.sent_at)
    session.expire(event, ["invitations"])
    return queued


def invite_person(session: Session, event: Event, person: Person, settings: MailSettings, *, stamp: datetime) -> OutgoingMail:
    """Invite one person: a new invitation with fresh tokens and its invitation mail queued in the outbox."""
    invitation = Invitation(event=event, person=person)
    issue_tokens(invitation, settings)
    session.add(invitation)
    return queue_invitation(session, invitation, settings, stamp=stamp)
