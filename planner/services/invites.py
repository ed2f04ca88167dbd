"""Sending invitations: one transaction creates invitations, tokens and outbox messages."""

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, make_msgid

from jinja2 import Environment
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..ical import AttendeeInfo, EventInfo, build_request, calendar_part
from ..mail import wire_bytes
from ..models import Event, EventStatus, Invitation, OutgoingMail, Person, ProposalEntry, utcnow
from ..tokens import new_reply_token, new_token
from .events import local


class InviteError(PlannerError):
    """Invitations that cannot be sent as asked."""


@dataclass(frozen=True)
class MailContext:
    """Installation settings that outgoing mail needs."""

    base_url: str
    sender: str
    sender_name: str
    reply_domain: str


def send_invites(session: Session, event: Event, ctx: MailContext, templates: Environment) -> list[OutgoingMail]:
    """Turn the event's proposal into invitations with queued mail; a second call sends nothing."""
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
    queued = [invite_person(session, event, person, ctx, templates, stamp=event.sent_at) for person in people]
    session.flush()
    return queued


@dataclass(frozen=True)
class InvitationAddresses:
    """Where an invitee's calendar replies go and where their answer page is."""

    reply_address: str
    rsvp_url: str


def issue_tokens(invitation: Invitation, ctx: MailContext) -> InvitationAddresses:
    """Give an invitation fresh RSVP and reply tokens (only their hashes are kept) and return the addresses they make."""
    token, invitation.token_hash = new_token()
    reply_token, invitation.reply_token_hash = new_reply_token()
    return InvitationAddresses(f"rsvp+{reply_token}@{ctx.reply_domain}", f"{ctx.base_url.rstrip('/')}/rsvp/{token}")


def invite_person(
    session: Session, event: Event, person: Person, ctx: MailContext, templates: Environment, *, stamp: datetime
) -> OutgoingMail:
    """Invite one person: a new invitation with fresh tokens and its invitation mail queued in the outbox."""
    invitation = Invitation(event=event, person=person)
    addresses = issue_tokens(invitation, ctx)
    session.add(invitation)
    message = compose_invite(event, person, addresses, ctx, templates, stamp=stamp)
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def event_info(event: Event, organizer_email: str, url: str | None) -> EventInfo:
    """Describe an event for the calendar builders."""
    return EventInfo(
        uid=event.uid,
        sequence=event.sequence,
        summary=event.title,
        description=event.description,
        location=event.location,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        organizer_email=organizer_email,
        organizer_name=event.organiser.name,
        url=url,
    )


def compose_invite(
    event: Event,
    person: Person,
    addresses: InvitationAddresses,
    ctx: MailContext,
    templates: Environment,
    *,
    stamp: datetime,
) -> EmailMessage:
    """Build the multipart/alternative invitation mail: text, HTML and a METHOD:REQUEST calendar."""
    ics = build_request(
        event_info(event, addresses.reply_address, addresses.rsvp_url),
        AttendeeInfo(email=person.email, name=person.name),
        stamp=stamp,
    )
    return assemble_mail(event, person, subject_for("Invitation:", event), addresses.reply_address, ctx, stamp=stamp,
                         bodies=render_bodies(templates, "invite", mail_values(event, person, addresses.rsvp_url)),
                         calendar=calendar_part(ics, "REQUEST"))


def mail_values(event: Event, person: Person, rsvp_url: str, **extra) -> dict:
    """Return what every mail template about an event gets: the event, the person, local times and the RSVP link."""
    return {
        "event": event,
        "person": person,
        "starts": local(event.starts_at, event),
        "ends": local(event.ends_at, event),
        "deadline": local(event.rsvp_deadline_at, event),
        "rsvp_url": rsvp_url,
        **extra,
    }


def subject_for(lead: str, event: Event) -> str:
    """Return a mail subject such as "Invitation: Team lunch on Thu 03 Dec 2026, 12:00" (lead "Invitation:")."""
    return f"{lead} {event.title} on {local(event.starts_at, event):%a %d %b %Y, %H:%M}"


def render_bodies(templates: Environment, name: str, values: dict) -> tuple[str, str]:
    """Render the text and HTML bodies of templates/email/<name>.txt and .html."""
    return (
        templates.get_template(f"email/{name}.txt").render(values),
        templates.get_template(f"email/{name}.html").render(values),
    )


def assemble_mail(
    event: Event,
    person: Person,
    subject: str,
    reply_address: str,
    ctx: MailContext,
    *,
    stamp: datetime,
    bodies: tuple[str, str],
    calendar: MIMEPart | None = None,
) -> EmailMessage:
    """Build a multipart/alternative mail to one invitee: text, HTML, then the calendar part when given."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((f"{event.organiser.name} via {ctx.sender_name}", ctx.sender))
    message["Reply-To"] = formataddr((event.organiser.name, reply_address))
    message["To"] = formataddr((person.name, person.email))
    message["Date"] = format_datetime(stamp)
    message["Message-ID"] = make_msgid(domain=ctx.reply_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(bodies[0])
    message.add_alternative(bodies[1], subtype="html")
    if calendar is not None:
        message.attach(calendar)
    return message


def queue_mail(
    session: Session,
    message: EmailMessage,
    *,
    event_id: int | None,
    invitation_id: int | None = None,
    invitation: Invitation | None = None,
) -> OutgoingMail:
    """Put a message in the outbox (for an invitation given by id or object); it leaves after the caller commits."""
    recipient = message["To"].addresses[0].addr_spec
    sender = message["From"].addresses[0].addr_spec
    mail = OutgoingMail(
        message_id=message["Message-ID"],
        event_id=event_id,
        invitation_id=invitation_id,
        invitation=invitation,
        sender=sender,
        recipient=recipient,
        subject=str(message["Subject"])[:255],
        raw=wire_bytes(message),
    )
    session.add(mail)
    return mail
