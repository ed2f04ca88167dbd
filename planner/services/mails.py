"""Every message: to an invitee (invitation, update, cancellation, un-invitation, "A seat is free", reminders, feedback)
and to an organiser (answer notice, daily digest, alert), composed and queued.

Addresses: an invitation stores a random seed; its RSVP link and its calendar reply address
(the ORGANIZER, rsvp+<token>@reply domain) are rebuilt from that seed and the secret key
(planner.tokens) for every mail, so follow-ups carry what the first mail carried and nothing is
read back from the outbox. An invitation without a seed (sent before seeds existed), or whose seed
no longer makes its stored hashes (the secret key changed), gets fresh tokens at its next mail.
Replies written by hand go to the organiser (Reply-To). Names and titles that go into headers and
calendar parameters pass through planner.text.one_line, so a stored line break never fails a send
nor adds a header. Mail leaves the outbox after the caller commits.
"""

import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr, make_msgid
from functools import lru_cache

from jinja2 import Environment
from markupsafe import escape
from sqlalchemy import insert
from sqlalchemy.orm import Session, defer

from ..ical import AttendeeInfo, CalendarTemplate, EventInfo, build_request, calendar_part, cancel_template, request_template
from ..mail import wire_bytes
from ..mime import Skeleton, address_field, skeleton
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
FEEDBACK_LEADS = {"request": "How was it?", "reminder": "Reminder: how was it?"}


@dataclass(frozen=True)
class MailSettings:
    """What composing mail needs from the installation: its addresses, the secret that makes tokens, the templates."""

    base_url: str
    sender: str
    sender_name: str
    reply_domain: str
    secret_key: str | bytes = field(repr=False)
    templates: Environment = field(repr=False)
    #: how long a backfill offer holds its seat when its event does not say (the offer mail says until when)
    offer_hours: int = 48
    #: the look-back of turns and balance when an offer picks whose turn it is (an answer can make an offer)
    lookback_days: int = 180


@dataclass(frozen=True)
class InvitationAddresses:
    """Where an invitee's calendar replies go and where their answer page is."""

    reply_address: str
    rsvp_url: str


def issue_tokens(invitation: Invitation, settings: MailSettings) -> InvitationAddresses:
    """Give an invitation a fresh seed, store the hashes of the tokens it makes, and return their addresses."""
    for name, value in fresh_tokens(settings).items():
        setattr(invitation, name, value)
    return _addresses(*_tokens(invitation.token_seed, settings), settings)


def fresh_tokens(settings: MailSettings) -> dict[str, str]:
    """Return a new invitation's token columns: a fresh seed and the hashes (only) of the tokens it makes."""
    seed = new_seed()
    token, reply_token = _tokens(seed, settings)
    return {"token_seed": seed, "token_hash": hash_token(token), "reply_token_hash": hash_reply_token(reply_token)}


def invitation_addresses(invitation: Invitation, settings: MailSettings) -> InvitationAddresses:
    """Return the addresses the invitee already has, rebuilt from the seed; fresh ones when the seed cannot rebuild them."""
    if invitation.token_seed:
        token, reply_token = _tokens(invitation.token_seed, settings)
        if (hash_token(token), hash_reply_token(reply_token)) == (invitation.token_hash, invitation.reply_token_hash):
            return _addresses(token, reply_token, settings)
    return issue_tokens(invitation, settings)


def _tokens(seed: str, settings: MailSettings) -> tuple[str, str]:
    return _derived(settings.secret_key, seed)


@lru_cache(maxsize=4096)
def _derived(secret_key: str | bytes, seed: str) -> tuple[str, str]:
    """The RSVP and reply tokens of a seed (remembered: a mail is composed right after its tokens are issued)."""
    return derived_token(secret_key, seed), derived_reply_token(secret_key, seed)


def _addresses(token: str, reply_token: str, settings: MailSettings) -> InvitationAddresses:
    return InvitationAddresses(f"rsvp+{reply_token}@{settings.reply_domain}", f"{settings.base_url.rstrip('/')}/rsvp/{token}")


def queue_invitation(session: Session, invitation: Invitation, settings: MailSettings, *, stamp: datetime) -> OutgoingMail:
    """Queue the invitation mail: text, HTML and a METHOD:REQUEST calendar."""
    return _queue_composed(session, invitation, settings, "invite", stamp)


def queue_invitations(
    session: Session, invitations: Sequence[Invitation], settings: MailSettings, *, stamp: datetime
) -> list[OutgoingMail]:
    """Queue the invitation mail of many invitations with one bulk insert (a statement per thousand rows).

    Each event's mail is looked up once for the batch, not once per invitation.
    """
    mails: dict[int, EventMail] = {}
    rows = []
    for invitation in invitations:
        event = invitation.event
        if event.id not in mails:
            mails[event.id] = event_mail(event, settings, "invite", stamp)
        rows.append(_composed(invitation, settings, mails[event.id]) | {"invitation_id": invitation.id})
    if not rows:
        return []
    returning = insert(OutgoingMail).returning(OutgoingMail).options(defer(OutgoingMail.raw))  # the bytes need not come back
    made = {mail.invitation_id: mail for mail in session.scalars(returning, rows)}
    return [made[invitation.id] for invitation in invitations]


def queue_offer(session: Session, invitation: Invitation, settings: MailSettings, *, stamp: datetime) -> OutgoingMail:
    """Queue an offer: the invitation mail (with its METHOD:REQUEST) saying until when the seat is held."""
    event, person = invitation.event, invitation.person
    addresses = invitation_addresses(invitation, settings)
    ics = build_request(_event_info(event, addresses), _attendee(invitation), stamp=stamp)
    values = _values(event, person, addresses, held_until=local(invitation.offer_expires_at, event))
    message = _assemble(
        invitation, _subject("A seat for you:", event), settings, stamp=stamp,
        bodies=_bodies(settings, "offer", values), calendar=calendar_part(ics, "REQUEST"),
    )
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def queue_change(
    session: Session, invitation: Invitation, settings: MailSettings, now: datetime, *, kind: str, changes: Sequence[str] = ()
) -> OutgoingMail:
    """Queue an "update" (REQUEST), "cancel" or "uninvite" (CANCEL) mail whose bodies say in words what happened."""
    if kind not in CHANGE_SUBJECTS:
        raise ValueError(f"a change mail is one of {', '.join(CHANGE_SUBJECTS)}, not {kind!r}")
    return _queue_composed(session, invitation, settings, kind, now, tuple(changes))


def queue_seat_mail(session: Session, invitation: Invitation, settings: MailSettings, now: datetime) -> OutgoingMail:
    """Queue "A seat is free: you are in" (text and HTML, no calendar part) to a promoted invitee."""
    return _queue_composed(session, invitation, settings, "seat", now)


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


def queue_answer_notice(session: Session, invitation: Invitation, organiser: Organiser, settings: MailSettings,
                        now: datetime) -> OutgoingMail:
    """Queue the mail about one new answer to one of the event's organisers (whose digest setting is "each")."""
    event = invitation.event
    subject = one_line(f"{invitation.person.name} answered {invitation.answer}: {event.title}")
    values = {"invitation": invitation, "event": event, "starts": local(event.starts_at, event), **_links(settings, event)}
    message = _to_organiser(organiser, subject, settings, now, bodies=_bodies(settings, "digest_answer", values))
    return queue_mail(session, message, event_id=event.id)


def queue_digest(session: Session, organiser: Organiser, summaries: Sequence, settings: MailSettings, now: datetime,
                 *, since: datetime) -> OutgoingMail:
    """Queue an organiser's daily digest: per event (services.digest.EventSummary), what happened since `since`."""
    values = {"organiser": organiser, "summaries": summaries, "since": since, "base_url": settings.base_url.rstrip("/")}
    subject = f"Your Team Planner digest: {sum(summary.size for summary in summaries)} news"
    message = _to_organiser(organiser, subject, settings, now, bodies=_bodies(settings, "digest_daily", values))
    return queue_mail(session, message, event_id=None)


def queue_alert(session: Session, event: Event, organiser: Organiser, kind: str, settings: MailSettings, now: datetime, *,
                counts) -> OutgoingMail:
    """Queue one organiser's alert that an event is full ("full") or that everyone answered ("all_answered")."""
    values = {"event": event, "kind": kind, "counts": counts, "starts": local(event.starts_at, event), **_links(settings, event)}
    message = _to_organiser(organiser, _subject(ALERT_LEADS[kind], event), settings, now,
                            bodies=_bodies(settings, f"alert_{kind}", values))
    return queue_mail(session, message, event_id=event.id)


def _links(settings: MailSettings, event: Event) -> dict:
    return {"event_url": f"{settings.base_url.rstrip('/')}/events/{event.id}"}


def _to_organiser(organiser: Organiser, subject: str, settings: MailSettings, stamp: datetime, *,
                  bodies: tuple[str, str]) -> EmailMessage:
    """A multipart/alternative mail (text and HTML) from the planner to one organiser."""
    return _plain_mail(subject, settings.sender_name, (organiser.name, organiser.email), settings, stamp=stamp, bodies=bodies)


def _assemble(invitation: Invitation, subject: str, settings: MailSettings, *, stamp: datetime, bodies: tuple[str, str],
              calendar: MIMEPart | None = None) -> EmailMessage:
    """A mail to one invitee (text, HTML, the calendar part when given) that replies to the organiser; for mails sent one
    at a time (reminders, offers, feedback), which need no prebuilt skeleton."""
    organiser, person = invitation.event.organiser, invitation.person
    return _plain_mail(subject, f"{organiser.name} via {settings.sender_name}", (person.name, person.email), settings,
                       stamp=stamp, bodies=bodies, reply_to=(organiser.name, organiser.email), calendar=calendar)


def _plain_mail(subject: str, sender_name: str, to: tuple[str, str], settings: MailSettings, *, stamp: datetime,
                bodies: tuple[str, str], reply_to: tuple[str, str] | None = None, calendar: MIMEPart | None = None
                ) -> EmailMessage:
    """Build a multipart/alternative message with the email package; every name goes through one_line."""
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = formataddr((one_line(sender_name), settings.sender))
    if reply_to is not None:
        message["Reply-To"] = formataddr((one_line(reply_to[0]), reply_to[1]))
    message["To"] = formataddr((one_line(to[0]), to[1]))
    message["Date"] = format_datetime(stamp)
    message["Message-ID"] = make_msgid(domain=settings.reply_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(bodies[0])
    message.add_alternative(bodies[1], subtype="html")
    if calendar is not None:
        message.attach(calendar)
    return message


def queue_feedback(
    session: Session, invitation: Invitation, settings: MailSettings, now: datetime, *, feedback_url: str, kind: str
) -> OutgoingMail:
    """Queue the feedback mail ("request" the day after, or the one "reminder") with the attendee's feedback link."""
    event = invitation.event
    addresses = invitation_addresses(invitation, settings)
    values = _values(event, invitation.person, addresses, feedback_url=feedback_url, is_reminder=kind == "reminder")
    message = _assemble(
        invitation, _subject(FEEDBACK_LEADS[kind], event), settings, stamp=now, bodies=_bodies(settings, "feedback", values)
    )
    return queue_mail(session, message, event_id=event.id, invitation=invitation)


def queue_mail(
    session: Session, message: EmailMessage, *, event_id: int | None, invitation: Invitation | None = None
) -> OutgoingMail:
    """Put a message in the outbox; it leaves after the caller commits."""
    return _queue(
        session, wire_bytes(message), message_id=message["Message-ID"], event_id=event_id, invitation=invitation,
        sender=message["From"].addresses[0].addr_spec, recipient=message["To"].addresses[0].addr_spec,
        subject=str(message["Subject"]),
    )


def _queue(session: Session, raw: bytes, *, message_id: str, event_id: int | None, invitation: Invitation | None,
           sender: str, recipient: str, subject: str) -> OutgoingMail:
    mail = OutgoingMail(
        message_id=message_id, event_id=event_id, invitation=invitation,
        sender=sender, recipient=recipient, subject=subject[:255], raw=raw,
    )
    session.add(mail)
    return mail


def _queue_composed(session: Session, invitation: Invitation, settings: MailSettings, kind: str, stamp: datetime,
                    changes: tuple[str, ...] = ()) -> OutgoingMail:
    """Compose one invitee's copy of the event's mail of this kind (built once per event) and queue it."""
    composed = _composed(invitation, settings, event_mail(invitation.event, settings, kind, stamp, changes))
    mail = OutgoingMail(**composed, invitation=invitation)
    session.add(mail)
    return mail


def _composed(invitation: Invitation, settings: MailSettings, mail: "EventMail") -> dict:
    """One invitee's copy of their event's mail (an event_mail), as its outbox columns."""
    event, person = invitation.event, invitation.person
    addresses = invitation_addresses(invitation, settings)
    message_id = make_msgid(domain=settings.reply_domain)
    bodies = mail.bodies(event, person, addresses, settings)
    if mail.calendar is not None:
        bodies.append(mail.calendar.render(_attendee(invitation), organizer_email=addresses.reply_address,
                                           url=addresses.rsvp_url))
    slots = {"To": address_field(one_line(person.name), person.email), "Message-ID": message_id}
    return {"message_id": message_id, "event_id": event.id, "sender": settings.sender, "recipient": person.email,
            "subject": mail.subject[:255], "raw": mail.skeleton.fill(slots, bodies)}


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


# --- each event's mail of one kind, built once and filled in for every invitee ---------------------------------


#: private-use characters that stand for the invitee's name and link while a template is rendered once per event;
#: "<" between two of them comes out as "&lt;" where the template escapes, so each slot knows how to be filled
_NAME, _LINK = "\ue000", "\ue001"
_SLOT = re.compile("([\ue000\ue001])(<|&lt;)\\1")
_KINDS = {  # kind -> subject lead, template, calendar method (None: no calendar part)
    "invite": ("Invitation:", "invite", "REQUEST"),
    "update": (f"{CHANGE_SUBJECTS['update']}:", "change", "REQUEST"),
    "cancel": (f"{CHANGE_SUBJECTS['cancel']}:", "change", "CANCEL"),
    "uninvite": (f"{CHANGE_SUBJECTS['uninvite']}:", "change", "CANCEL"),
    "seat": (SEAT_LEAD, "seat", None),
}
_STAND_IN = InvitationAddresses("stand-in@invalid", f"{_LINK}<{_LINK}")
#: a name and a link that show whether a template puts them in as they are (escaped in HTML) and nothing else
_PROBE = ("Zoë O'Brien <&> \"Q\"", "https://probe.invalid/rsvp/a&b<c>")
_REMEMBERED = 64


class _NotPlain(Exception):
    """A mail template uses more of the invitee than person.name and rsvp_url as plain values."""


@dataclass(frozen=True)
class _OnlyName:
    """The invitee while a template is rendered once per event: a name, and nothing else."""

    name: str

    def __getattr__(self, attribute: str):
        raise _NotPlain(attribute)


@dataclass(frozen=True)
class _Body:
    """A rendered body with slots: literal text, and (marker, escaped) where the name or link goes."""

    chunks: tuple[str | tuple[str, bool], ...]

    def fill(self, name: str, link: str) -> str:
        """Return the body for one invitee."""
        values = {(_NAME, False): name, (_LINK, False): link}
        values[_NAME, True], values[_LINK, True] = str(escape(name)), str(escape(link))
        return "".join(chunk if isinstance(chunk, str) else values[chunk] for chunk in self.chunks)


@dataclass(frozen=True)
class EventMail:
    """What every invitee's copy of one event's mail of one kind shares; bodies() and the calendar add the rest."""

    kind: str
    changes: tuple[str, ...]
    subject: str
    skeleton: Skeleton
    calendar: CalendarTemplate | None
    texts: tuple[_Body, _Body] | None  # None: the templates use more of the invitee, so they render for each

    def bodies(self, event: Event, person: Person, addresses: InvitationAddresses, settings: MailSettings) -> list[str]:
        """Return the text and HTML bodies for one invitee."""
        if self.texts is None:
            values = _kind_values(event, person, addresses, self.kind, self.changes)
            return list(_bodies(settings, _KINDS[self.kind][1], values))
        return [body.fill(person.name, addresses.rsvp_url) for body in self.texts]


def event_mail(event: Event, settings: MailSettings, kind: str, stamp: datetime, changes: tuple[str, ...] = ()) -> EventMail:
    """Return the event's mail of this kind as of now, built on first use and remembered while nothing in it changes."""
    name = _KINDS[kind][1]
    key = (
        kind, stamp, changes, settings, event.organiser.name, event.organiser.email, _event_columns(event),
        settings.templates.get_template(f"email/{name}.txt"), settings.templates.get_template(f"email/{name}.html"),
    )
    with _LOCK:
        found = _BUILT.get(key)
        if found is not None:
            _BUILT.move_to_end(key)
            return found
    built = _build_event_mail(event, settings, kind, stamp, changes)
    with _LOCK:
        _BUILT[key] = built
        while len(_BUILT) > _REMEMBERED:
            _BUILT.popitem(last=False)
    return built


_BUILT: OrderedDict[tuple, EventMail] = OrderedDict()
_LOCK = threading.Lock()
#: every column of an event: a mail is rebuilt when any of them changes
_event_columns = operator.attrgetter(*(column.key for column in Event.__mapper__.column_attrs))


def _build_event_mail(event: Event, settings: MailSettings, kind: str, stamp: datetime, changes: tuple[str, ...]) -> EventMail:
    lead, name, method = _KINDS[kind]
    organiser = event.organiser
    headers = [
        ("Subject", _subject(lead, event)),
        ("From", formataddr((one_line(f"{organiser.name} via {settings.sender_name}"), settings.sender))),
        ("Reply-To", formataddr((one_line(organiser.name), organiser.email))),
        ("To", None),
        ("Date", format_datetime(stamp)),
        ("Message-ID", None),
        ("Auto-Submitted", "auto-generated"),
    ]
    parts = [("text/plain", {"charset": "utf-8"}), ("text/html", {"charset": "utf-8"})]
    calendar = None
    if method is not None:
        parts.append(("text/calendar", {"charset": "utf-8", "method": method}))
        info = _event_info(event, _STAND_IN)
        calendar = (request_template(info, stamp=stamp) if method == "REQUEST"
                    else cancel_template(info, stamp=stamp, whole_event=kind != "uninvite"))
    return EventMail(kind, changes, headers[0][1], skeleton(headers, parts), calendar,
                     _slotted_bodies(event, settings, kind, changes))


def _slotted_bodies(event: Event, settings: MailSettings, kind: str, changes: tuple[str, ...]) -> tuple[_Body, _Body] | None:
    """Render the templates once with slot markers for the invitee; None unless they use only the name and the link."""
    name = _KINDS[kind][1]
    marked, probe = _OnlyName(f"{_NAME}<{_NAME}"), InvitationAddresses(_STAND_IN.reply_address, _PROBE[1])
    try:
        rendered = _bodies(settings, name, _kind_values(event, marked, _STAND_IN, kind, changes))
        expected = _bodies(settings, name, _kind_values(event, _OnlyName(_PROBE[0]), probe, kind, changes))
    except _NotPlain:
        return None
    bodies = []
    for text in rendered:
        pieces = _SLOT.split(text)
        literals = pieces[0::3]
        if any(_NAME in literal or _LINK in literal for literal in literals):
            return None
        chunks: list[str | tuple[str, bool]] = [literals[0]]
        for marker, form, literal in zip(pieces[1::3], pieces[2::3], literals[1:]):
            chunks += [(marker, form == "&lt;"), literal]
        bodies.append(_Body(tuple(chunks)))
    if [body.fill(*_PROBE) for body in bodies] != list(expected):
        return None
    return bodies[0], bodies[1]


def _kind_values(event: Event, person, addresses: InvitationAddresses, kind: str, changes: tuple[str, ...] = ()) -> dict:
    """The template values of a mail of this kind (change mails also say which kind and what changed)."""
    if _KINDS[kind][1] != "change":
        return _values(event, person, addresses)
    return _values(event, person, addresses, kind=kind, changes=list(changes))
