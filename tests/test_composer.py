"""The fast composer (a skeleton and a calendar template per event) against the straightforward email package path.

The reference below builds every message the plain way: the calendar as one icalendar object per
invitee, the message with email.message.EmailMessage. After decoding, both must carry the same
headers, the same text and HTML and byte for byte the same calendar.
"""

import re
from datetime import date, datetime, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32, default
from email.utils import format_datetime, formataddr, make_msgid
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import DictLoader, Environment
from sqlalchemy import select

from planner.config import sends_at_once
from planner.extensions import db
from planner.ical import PRODID, AttendeeInfo, EventInfo, build_cancel, build_request, calendar_part, request_template
from planner.mail import WIRE_POLICY
from planner.mailer import mail_settings
from planner.models import Event, Invitation, MailState, Organiser, OutgoingMail
from planner.services.events import local
from planner.services.mails import (
    MailSettings,
    invitation_addresses,
    issue_tokens,
    queue_change,
    queue_invitation,
    queue_seat_mail,
)
from planner.text import one_line
from tests.helpers import assert_conformant, log_in, make_app, parse_mail, propose_and_send, staff

NAMES = [
    "Zoë Müller",
    "Müller, Zoë",
    'Ann "Nan" O\'Neil',
    "Dr. A. Smith (Ops)",
    "李小龍",
    "Back\\slash ^caret; semi: colon, comma",
    "Tab\tand\x07bell\x85 and\u2028separator\r\nBcc: x@evil.example",
    "Hubert Blaine Wolfeschlegelsteinhausenbergerdorff Sr. of the Very Long Family Name Society",
    "Ångström-Ærøskøbing Østergård Šťastný Łukasz Żółć Øyvind Ðorđević Þórunn Ŋ " * 2,
    "x" * 150,
]
STAMP = datetime(2027, 6, 1, 8, 0, tzinfo=timezone.utc)
KINDS = ["invite", "update", "cancel", "uninvite", "seat"]
SUBJECT_LEADS = {"invite": "Invitation:", "update": "Updated:", "cancel": "Cancelled:", "uninvite": "Cancelled:",
                 "seat": "A seat is free: you are in —"}


# --- the straightforward path ---------------------------------------------------------------------------------


def reference_calendar(method: str, event: EventInfo, attendee: AttendeeInfo, stamp: datetime, status) -> bytes:
    """One icalendar object per invitee, serialised whole."""
    calendar = icalendar.Calendar()
    for name, value in (("prodid", PRODID), ("version", "2.0"), ("calscale", "GREGORIAN"), ("method", method)):
        calendar.add(name, value)
    zone = timezone.utc
    if event.timezone != "UTC":
        zone = ZoneInfo(event.timezone)
        years = sorted({event.starts_at.astimezone(zone).year, event.ends_at.astimezone(zone).year})
        vtimezone = icalendar.Timezone.from_tzid(event.timezone, first_date=date(years[0], 1, 1),
                                                 last_date=date(years[-1] + 1, 1, 1))
        vtimezone.pop("COMMENT", None)
        calendar.add_component(vtimezone)
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("sequence", event.sequence)
    vevent.add("organizer", address(event.organizer_email, event.organizer_name))
    vevent.add("attendee", address(attendee.email, attendee.name, ROLE="REQ-PARTICIPANT", PARTSTAT=attendee.partstat,
                                   RSVP="TRUE"))
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.summary)
    description = event.description.strip()
    if event.url and event.url not in description:
        description = f"{description}\n\n{event.url}".strip()
    for name, value in (("description", description), ("location", event.location.strip()), ("url", event.url),
                        ("status", status)):
        if value:
            vevent.add(name, value)
    vevent.add("transp", "OPAQUE")
    calendar.add_component(vevent)
    return calendar.to_ical()


def address(email: str, name: str, **params) -> icalendar.vCalAddress:
    value = icalendar.vCalAddress(f"mailto:{email.strip()}")
    if " ".join(name.split()):
        value.params["CN"] = " ".join(name.split())
    value.params.update(params)
    return value


def reference_message(invitation: Invitation, settings: MailSettings, kind: str, changes=()) -> EmailMessage:
    """The message as email.message builds it, with every part rendered for this invitee."""
    event, person, organiser = invitation.event, invitation.person, invitation.event.organiser
    addresses = invitation_addresses(invitation, settings)
    values = {"event": event, "person": person, "starts": local(event.starts_at, event), "ends": local(event.ends_at, event),
              "deadline": local(event.rsvp_deadline_at, event), "rsvp_url": addresses.rsvp_url}
    if kind in ("update", "cancel", "uninvite"):
        values |= {"kind": kind, "changes": list(changes)}
    template = "seat" if kind == "seat" else "invite" if kind == "invite" else "change"
    message = EmailMessage()
    message["Subject"] = one_line(f"{SUBJECT_LEADS[kind]} {event.title} on {local(event.starts_at, event):%a %d %b %Y, %H:%M}")
    message["From"] = formataddr((one_line(f"{organiser.name} via {settings.sender_name}"), settings.sender))
    message["Reply-To"] = formataddr((one_line(organiser.name), organiser.email))
    message["To"] = formataddr((one_line(person.name), person.email))
    message["Date"] = format_datetime(STAMP)
    message["Message-ID"] = make_msgid(domain=settings.reply_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(settings.templates.get_template(f"email/{template}.txt").render(values))
    message.add_alternative(settings.templates.get_template(f"email/{template}.html").render(values), subtype="html")
    if kind != "seat":
        info = EventInfo(event.uid, event.sequence, one_line(event.title), event.description, one_line(event.location),
                         event.starts_at, event.ends_at, event.timezone, addresses.reply_address,
                         one_line(organiser.name), addresses.rsvp_url)
        attendee = AttendeeInfo(person.email, one_line(person.name))
        method = "REQUEST" if kind in ("invite", "update") else "CANCEL"
        status = {"invite": "CONFIRMED", "update": "CONFIRMED", "cancel": "CANCELLED", "uninvite": None}[kind]
        message.attach(calendar_part(reference_calendar(method, info, attendee, STAMP, status), method))
    return message


def queue(kind: str, invitation: Invitation, settings: MailSettings, changes=()):
    if kind == "invite":
        return queue_invitation(db.session, invitation, settings, stamp=STAMP)
    if kind == "seat":
        return queue_seat_mail(db.session, invitation, settings, STAMP)
    return queue_change(db.session, invitation, settings, STAMP, kind=kind, changes=changes)


def decoded(message) -> dict:
    """What a reader gets: the headers but Message-ID (the boundary, To's name: see mailbox), each part's type and content."""
    return {
        "headers": [(name, str(value)) for name, value in message.items() if name not in ("Message-ID", "Content-Type", "To")],
        "type": message.get_content_type(),
        "to": [a.addr_spec for a in message["To"].addresses],
        "parts": [(part.get_content_type(), dict(part.get_params()[1:]), canonical(part.get_content()))
                  for part in message.iter_parts()],
    }


def canonical(content: str | bytes) -> str | bytes:
    """Text with its line breaks as one form (MIME text breaks lines with CRLF, whatever the transfer encoding)."""
    return content.replace("\r\n", "\n") if isinstance(content, str) else content


def mailbox(raw: bytes) -> tuple[str, str]:
    """The To mailbox decoded as RFC 2047 6.2 says: white space between two encoded-words is not part of the name.

    (Python's header parser keeps that white space; the email package, folding a long name, puts a real
    space there and so loses it for every RFC 2047 reader: the reference path cannot be the measure here.)
    """
    value = message_from_bytes(raw, policy=compat32)["To"].replace("\r\n", "")
    found = default.header_factory("To", re.sub(r"\?=\s+=\?", "?==?", value)).addresses[0]
    return found.display_name, found.addr_spec


@pytest.fixture
def invited(make_person, make_event):
    """Invitations of one event (a non-ASCII title, a long description) for every name in NAMES."""
    event = make_event(title="Sommerfest: Spaß, Spiel & „Grillen“ on the roof", capacity=len(NAMES))
    event = db.session.get(Event, event.id)
    event.description = "Bring a friend; food, drinks and music.\n" + "A very long line of agenda text " * 12
    db.session.get(Organiser, event.organiser_id).name = "Olivia O'Brien, Ops"
    invitations = []
    for number, name in enumerate(NAMES):
        invitation = Invitation(event=event, person=make_person(email=f"p{number}@example.org", name=name))
        issue_tokens(invitation, mail_settings())
        db.session.add(invitation)
        invitations.append(invitation)
    db.session.commit()
    return invitations


# --- the tests --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_fast_path_decodes_to_what_the_email_package_builds(app, invited, kind):
    settings = mail_settings()
    changes = ["Where: Canteen → Roof terrace"] if kind == "update" else ()
    for invitation in invited:
        mail = queue(kind, invitation, settings, changes)
        fast, reference = parse_mail(mail.raw), parse_mail(reference_message(invitation, settings, kind, changes).as_bytes(
            policy=WIRE_POLICY))
        assert decoded(fast) == decoded(reference), invitation.person.name
        assert mailbox(mail.raw) == (one_line(invitation.person.name), invitation.person.email)
        assert not fast.defects and all(not part.defects for part in fast.walk())
        assert (mail.sender, mail.recipient, mail.subject) == (
            reference["From"].addresses[0].addr_spec, reference["To"].addresses[0].addr_spec, str(reference["Subject"]))
        assert fast["Message-ID"] == mail.message_id and re.fullmatch(r"<[^<>@\s]+@planner\.example\.com>", mail.message_id)
        lines = mail.raw.split(b"\r\n")
        assert b"\n" not in mail.raw.replace(b"\r\n", b"") and all(len(line) <= 998 for line in lines)
        head = mail.raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii() and not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", head.replace(b"\r\n", b""))
    if kind != "seat":
        method, sequence = ("REQUEST" if kind in ("invite", "update") else "CANCEL"), invited[0].event.sequence
        for invitation in (invited[2], invited[6], invited[8]):
            assert_conformant(parse_mail(queue(kind, invitation, settings, changes).raw), method, sequence)


def test_every_copy_has_its_own_message_id_reply_address_and_link(app, invited):
    settings = mail_settings()
    mails = [queue_invitation(db.session, invitation, settings, stamp=STAMP) for invitation in invited]
    assert len({mail.message_id for mail in mails}) == len(invited)
    for invitation, mail in zip(invited, mails):
        addresses = invitation_addresses(invitation, settings)
        message = parse_mail(mail.raw)
        vevent = icalendar.Calendar.from_ical(next(p for p in message.walk() if p.get_content_type() == "text/calendar")
                                              .get_content()).walk("VEVENT")[0]
        assert str(vevent["ORGANIZER"]) == f"mailto:{addresses.reply_address}"
        assert str(vevent["URL"]) == addresses.rsvp_url and addresses.rsvp_url in str(vevent["DESCRIPTION"])
        assert addresses.rsvp_url in message.get_body(("plain",)).get_content()
        assert f'href="{addresses.rsvp_url}"' in message.get_body(("html",)).get_content()


def test_an_edited_event_gets_a_new_skeleton(app, invited):
    settings = mail_settings()
    before = parse_mail(queue_invitation(db.session, invited[0], settings, stamp=STAMP).raw)
    event = invited[0].event
    event.title, event.location = "Winter party", "Cellar"
    after = parse_mail(queue_invitation(db.session, invited[1], settings, stamp=STAMP).raw)
    assert str(before["Subject"]).startswith("Invitation: Sommerfest") and str(after["Subject"]).startswith("Invitation: Winter")
    assert "Cellar" in after.get_body(("plain",)).get_content()
    assert decoded(after) == decoded(parse_mail(reference_message(invited[1], settings, "invite").as_bytes(policy=WIRE_POLICY)))


TEMPLATES_USING_MORE = {
    "email/invite.txt": "Hello {{ person.name|upper }} <{{ person.email }}>: {{ rsvp_url }}\n",
    "email/invite.html": "<p>{{ person.name.split()[0] }}</p>",
}


@pytest.mark.parametrize("templates", [
    TEMPLATES_USING_MORE,
    {"email/invite.txt": "Hi {{ person.name|upper }} {{ rsvp_url }}\n", "email/invite.html": "<p>{{ person.name[:3] }}</p>"},
])
def test_templates_that_use_more_of_the_invitee_are_rendered_for_each(app, invited, templates):
    settings = MailSettings("http://planner.test", "planner@example.org", "Team Planner", "planner.example.com",
                            "test-secret-key", Environment(loader=DictLoader(templates), autoescape=True))
    for invitation in invited[:3]:
        message = parse_mail(queue_invitation(db.session, invitation, settings, stamp=STAMP).raw)
        values = {"person": invitation.person, "rsvp_url": invitation_addresses(invitation, settings).rsvp_url}
        for subtype in ("plain", "html"):
            name = f"email/invite.{'txt' if subtype == 'plain' else 'html'}"
            expected = settings.templates.get_template(name).render(values)
            assert message.get_body((subtype,)).get_content().replace("\r\n", "\n") == expected.rstrip("\n") + "\n"


BERLIN = ZoneInfo("Europe/Berlin")
EVENT = EventInfo("prop-1@planner.example.com", 2, "Sommerfest", "", "Kantine", datetime(2027, 6, 18, 18, tzinfo=BERLIN),
                  datetime(2027, 6, 18, 23, tzinfo=BERLIN), "Europe/Berlin", "rsvp+tok@planner.example.com", "Olivia",
                  "https://planner.example.com/rsvp/tok")
WORDS = st.text(st.sampled_from("aZ ,;:\\^\"'<>\nøÆ李😀-."), max_size=120)


@settings(max_examples=60, deadline=None)
@given(name=WORDS, organiser=WORDS, description=WORDS, location=WORDS)
def test_calendar_templates_serialise_as_icalendar_does(name, organiser, description, location):
    event = EventInfo(**{**EVENT.__dict__, "organizer_name": organiser, "description": description, "location": location})
    attendee = AttendeeInfo("zoe@example.org", name)
    assert build_request(event, attendee, stamp=STAMP) == reference_calendar("REQUEST", event, attendee, STAMP, "CONFIRMED")
    assert build_cancel(event, attendee, stamp=STAMP) == reference_calendar("CANCEL", event, attendee, STAMP, "CANCELLED")
    uninvite = build_cancel(event, attendee, stamp=STAMP, whole_event=False)
    assert uninvite == reference_calendar("CANCEL", event, attendee, STAMP, None)


def test_a_calendar_template_renders_only_with_the_kind_of_url_it_was_built_for():
    template = request_template(EVENT, stamp=STAMP)
    with pytest.raises(ValueError, match="URL"):
        template.render(AttendeeInfo("zoe@example.org", "Zoë"), organizer_email="rsvp+x@planner.example.com", url=None)
    bare = request_template(EventInfo(**{**EVENT.__dict__, "url": None}), stamp=STAMP)
    with pytest.raises(ValueError, match="URL"):
        bare.render(AttendeeInfo("zoe@example.org", "Zoë"), organizer_email="rsvp+x@planner.example.com", url="https://x.test/")


def test_a_request_leaves_smtp_delivery_to_the_outbox_worker(database_url, tmp_path, smtp_server, make_person, make_event):
    app = make_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    with app.app_context():
        client = app.test_client()
        organiser = log_in(client)
        staff(make_person, 3)
        assert propose_and_send(client, make_event(organiser=organiser, capacity=3)).status_code == 302
        assert smtp_server.messages == []
        assert set(db.session.scalars(select(OutgoingMail.state))) == {MailState.QUEUED}
        result = app.test_cli_runner().invoke(args=["outbox", "work", "--once"])
        assert result.exit_code == 0 and "3 sent" in result.output and len(smtp_server.messages) == 3
        db.session.remove()
        db.engine.dispose()


def test_the_mailbox_and_the_setting_deliver_at_once():
    assert not sends_at_once({"MAIL_SEND_AFTER_COMMIT": False, "MAIL_TRANSPORT": "smtp"})
    assert not sends_at_once({"MAIL_SEND_AFTER_COMMIT": "False", "MAIL_TRANSPORT": "smtp"})
    assert sends_at_once({"MAIL_SEND_AFTER_COMMIT": True, "MAIL_TRANSPORT": "smtp"})
    assert sends_at_once({"MAIL_SEND_AFTER_COMMIT": False, "MAIL_TRANSPORT": "Mailbox"})
