"""Every message: to an invitee (invitation, update, cancellation, un-invitation, "A seat is free", reminders) and to an
organiser (answer notice, daily digest, alert), composed and queued.

Addresses: an invitation stores a random seed; its RSVP link and its calendar reply address
(the ORGANIZER, rsvp+<token>@reply domain) are rebuilt from that seed and the secret key
(planner.tokens) for every mail, so follow-ups carry what the first mail carried and nothing is
read back from the outbox. An invitation without a seed (sent before seeds existed), or whose seed
no longer makes its stored hashes (the secret key changed), gets fresh tokens at its next mail.
Replies written by hand go to the organiser (Reply-To). Names and titles that go into headers and
calendar parameters pass through planner.text.one_line, so a stored line break never fails a send
nor adds a header. Mail leaves the outbox after the caller commits.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, make_msgid

from jinja2 import Environment
from sqlalchemy.orm import Session

from ..ical import AttendeeInfo, EventInfo, build_cancel, build_request, calendar_part
from ..mail import wire_bytes
from ..models import Event, Invitation, Organiser, OutgoingMail, Person
from ..text import one_line
from ..tokens import (
    derived_reply_token,
    derived_token,
    hash_reply_token,
    hash_token,
    new_seed,
)
from .events import local

#: the kinds of follow-up that change a calendar, and the word their subject starts with
CHANGE_SUBJECTS = {"update": "Updated", "cancel": "Cancelled", "uninvite": "Cancelled"}
SEAT_LEAD = "A seat is free: you are in —"
#: the word each reminder's subject starts with, by ReminderKind value
REMINDER_LEADS = {"unanswered": "Reminder: please answer —", "day_before": "Tomorrow:"}
ALERT_LEADS = {"full": "Full:", "all_answered": "Everyone has answered:"}


@dataclass(frozen=True)
class MailSettings:
    """What composing mail needs from the installation: its addresses, the secret that makes tokens, the templates."""

    base_url: str
    sender: str
    sender_name: str
    reply_domain: str
    secret_key: str | bytes = field(repr=False)
    templates: Environment = field(repr=False)


@dataclass(frozen=True)
class InvitationAddresses:
    """Where an invitee's calendar replies go and where their answer page is."""

    reply_address: str
    rsvp_url: str


def issue_tokens(invitation: Invitation, settings: MailSettings) -> InvitationAddresses:
    """Give an invitation a fresh seed, store the hashes of the tokens it makes, and return their addresses."""
    invitation.token_seed = new_seed()
    token, reply_token = _tokens(invitation.token_seed, settings)
    invitation.token_hash, invitation.reply_token_hash = hash_token(token), hash_reply_token(reply_token)
    return _addresses(token, reply_token, settings)


def invitation_addresses(invitation: Invitation, settings: MailSettings) -> InvitationAddresses:
    """Return the addresses the invitee already has, rebuilt from the seed; fresh ones when the seed cannot rebuild them."""
    if invitation.token_seed:
        token, reply_token = _tokens(invitation.token_seed, settings)
        if (hash_token(token), hash_reply_token(reply_token)) == (invitation.token_hash, invitation.reply_token_hash):
            return _addresses(token, reply_token, settings)
    return issue_tokens(invitation, settings)


def _tokens(seed: str, settings: MailSettings) -> tuple[str, str]:
    return derived_token(settings.secret_key, seed), derived_reply_token(settings.secret_key, seed)


def _addresses(token: str, reply_token: str, settings: MailSettings) -> InvitationAddresses:
    return InvitationAddresses(f"rsvp+{reply_token}@{settings.reply_domain}", f"{settings.base_url.rstrip('/')}/rsvp/{token}")


def queue_invitation(session: Session, invitation: Invitation, settings: MailSettings, *, stamp: datetime) -> OutgoingMail:
    """Queue the invitation mail: text, HTML and a METHOD:REQUEST calendar."""
    event, person = invitation.event, invitation.person
    addresses = invitation_addresses(invitation, settings)
    ics = build_request(_event_info(event, addresses), _attendee(invitation), stamp=stamp)
    message = _assemble(
        invitation, _subject("Invitation:", event), settings, stamp=stamp,
        bodies=_bodies(settings, "invite", _values(event, person, addresses)), calendar=calendar_part(ics, "REQUEST"),
    )
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def queue_change(
    session: Session, invitation: Invitation, settings: MailSettings, now: datetime, *, kind: str, changes: Sequence[str] = ()
) -> OutgoingMail:
    """Queue an "update" (REQUEST), "cancel" or "uninvite" (CANCEL) mail whose bodies say in words what happened."""
    event, person = invitation.event, invitation.person
    addresses = invitation_addresses(invitation, settings)
    info, attendee = _event_info(event, addresses), _attendee(invitation)
    if kind == "update":
        ics, method = build_request(info, attendee, stamp=now), "REQUEST"
    else:
        ics, method = build_cancel(info, attendee, stamp=now, whole_event=kind == "cancel"), "CANCEL"
    values = _values(event, person, addresses, kind=kind, changes=list(changes))
    message = _assemble(
        invitation, _subject(f"{CHANGE_SUBJECTS[kind]}:", event), settings, stamp=now,
        bodies=_bodies(settings, "change", values), calendar=calendar_part(ics, method),
    )
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def queue_seat_mail(session: Session, invitation: Invitation, settings: MailSettings, now: datetime) -> OutgoingMail:
    """Queue "A seat is free: you are in" (text and HTML, no calendar part) to a promoted invitee."""
    event = invitation.event
    addresses = invitation_addresses(invitation, settings)
    message = _assemble(
        invitation, _subject(SEAT_LEAD, event), settings, stamp=now,
        bodies=_bodies(settings, "seat", _values(event, invitation.person, addresses)),
    )
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def queue_reminder(
    session: Session, invitation: Invitation, settings: MailSettings, now: datetime, *, kind: str, table=None
) -> OutgoingMail:
    """Queue a reminder (text and HTML, no calendar part): "unanswered" asks for an answer, "day_before" gives the
    time, place and (a seating.YourTable, when a plan is published) the table."""
    event = invitation.event
    addresses = invitation_addresses(invitation, settings)
    message = _assemble(
        invitation, _subject(REMINDER_LEADS[kind], event), settings, stamp=now,
        bodies=_bodies(settings, f"reminder_{kind}", _values(event, invitation.person, addresses, table=table)),
    )
    message["X-Planner-Kind"] = f"reminder_{kind}"
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def queue_answer_notice(session: Session, invitation: Invitation, settings: MailSettings, now: datetime) -> OutgoingMail:
    """Queue the organiser's mail about one new answer (their digest setting is "each")."""
    event = invitation.event
    subject = one_line(f"{invitation.person.name} answered {invitation.answer}: {event.title}")
    values = {"invitation": invitation, "event": event, "starts": local(event.starts_at, event), **_links(settings, event)}
    message = _to_organiser(event.organiser, subject, settings, now, bodies=_bodies(settings, "digest_answer", values))
    return queue_mail(session, message, event_id=event.id)


def queue_digest(session: Session, organiser: Organiser, summaries: Sequence, settings: MailSettings, now: datetime,
                 *, since: datetime) -> OutgoingMail:
    """Queue an organiser's daily digest: per event (services.digest.EventSummary), what happened since `since`."""
    values = {"organiser": organiser, "summaries": summaries, "since": since, "base_url": settings.base_url.rstrip("/")}
    subject = f"Your Team Planner digest: {sum(summary.size for summary in summaries)} news"
    message = _to_organiser(organiser, subject, settings, now, bodies=_bodies(settings, "digest_daily", values))
    return queue_mail(session, message, event_id=None)


def queue_alert(session: Session, event: Event, kind: str, settings: MailSettings, now: datetime, *, counts) -> OutgoingMail:
    """Queue the organiser's alert that an event is full ("full") or that everyone answered ("all_answered")."""
    values = {"event": event, "kind": kind, "counts": counts, "starts": local(event.starts_at, event), **_links(settings, event)}
    message = _to_organiser(event.organiser, _subject(ALERT_LEADS[kind], event), settings, now,
                            bodies=_bodies(settings, f"alert_{kind}", values))
    return queue_mail(session, message, event_id=event.id)


def _links(settings: MailSettings, event: Event) -> dict:
    return {"event_url": f"{settings.base_url.rstrip('/')}/events/{event.id}"}


def _to_organiser(organiser: Organiser, subject: str, settings: MailSettings, stamp: datetime, *,
                  bodies: tuple[str, str]) -> EmailMessage:
    """A multipart/alternative mail (text and HTML) from the planner to one organiser."""
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = formataddr((one_line(settings.sender_name), settings.sender))
    message["To"] = formataddr((one_line(organiser.name), organiser.email))
    message["Date"] = format_datetime(stamp)
    message["Message-ID"] = make_msgid(domain=settings.reply_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(bodies[0])
    message.add_alternative(bodies[1], subtype="html")
    return message


def queue_mail(
    session: Session, message: EmailMessage, *, event_id: int | None, invitation: Invitation | None = None
) -> OutgoingMail:
    """Put a message in the outbox; it leaves after the caller commits."""
    mail = OutgoingMail(
        message_id=message["Message-ID"],
        event_id=event_id,
        invitation=invitation,
        sender=message["From"].addresses[0].addr_spec,
        recipient=message["To"].addresses[0].addr_spec,
        subject=str(message["Subject"])[:255],
        raw=wire_bytes(message),
    )
    session.add(mail)
    return mail


def _event_info(event: Event, addresses: InvitationAddresses) -> EventInfo:
    """Describe an event for the calendar builders: replies go to the invitee's reply address, URL is their page."""
    return EventInfo(
        uid=event.uid,
        sequence=event.sequence,
        summary=one_line(event.title),
        description=event.description,
        location=one_line(event.location),
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        organizer_email=addresses.reply_address,
        organizer_name=one_line(event.organiser.name),
        url=addresses.rsvp_url,
    )


def _attendee(invitation: Invitation) -> AttendeeInfo:
    return AttendeeInfo(email=invitation.person.email, name=one_line(invitation.person.name))


def _values(event: Event, person: Person, addresses: InvitationAddresses, **extra) -> dict:
    """What every mail template gets: the event, the person, local times and the RSVP link."""
    return {
        "event": event,
        "person": person,
        "starts": local(event.starts_at, event),
        "ends": local(event.ends_at, event),
        "deadline": local(event.rsvp_deadline_at, event),
        "rsvp_url": addresses.rsvp_url,
        **extra,
    }


def _subject(lead: str, event: Event) -> str:
    """A one-line subject such as "Invitation: Team lunch on Thu 03 Dec 2026, 12:00"."""
    return one_line(f"{lead} {event.title} on {local(event.starts_at, event):%a %d %b %Y, %H:%M}")


def _bodies(settings: MailSettings, name: str, values: dict) -> tuple[str, str]:
    """Render the text and HTML bodies of templates/email/<name>.txt and .html."""
    return (
        settings.templates.get_template(f"email/{name}.txt").render(values),
        settings.templates.get_template(f"email/{name}.html").render(values),
    )


def _assemble(
    invitation: Invitation,
    subject: str,
    settings: MailSettings,
    *,
    stamp: datetime,
    bodies: tuple[str, str],
    calendar: MIMEPart | None = None,
) -> EmailMessage:
    """A multipart/alternative mail to one invitee (text, HTML, the calendar part when given), replies to the organiser."""
    organiser, person = invitation.event.organiser, invitation.person
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((one_line(f"{organiser.name} via {settings.sender_name}"), settings.sender))
    message["Reply-To"] = formataddr((one_line(organiser.name), organiser.email))
    message["To"] = formataddr((one_line(person.name), person.email))
    message["Date"] = format_datetime(stamp)
    message["Message-ID"] = make_msgid(domain=settings.reply_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(bodies[0])
    message.add_alternative(bodies[1], subtype="html")
    if calendar is not None:
        message.attach(calendar)
    return message
