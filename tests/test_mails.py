"""Composing mail (services.mails) over a real SMTP server: parts, addresses, stored tokens, safe headers."""

import re
from dataclasses import replace

import icalendar
from sqlalchemy import delete, func, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import (
    Event,
    Invitation,
    MailState,
    Organiser,
    OutgoingMail,
    Person,
    utcnow,
)
from planner.services.mails import queue_change
from planner.tokens import derived_token
from tests.helpers import (
    assert_conformant,
    calendar_of,
    client_reply,
    csrf_from,
    edit,
    ingest_cli,
    log_in,
    parse_mail,
    propose_and_send,
    readdressed,
    rsvp_link,
    staff,
)

ORGANISER_REPLY_TO = "Bea Boss <boss@example.com>"
REPLY_ADDRESS = re.compile(r"rsvp\+[a-z2-7]{32}@planner\.example\.com")


def organizer_of(message) -> str:
    """The calendar ORGANIZER address of a mail, without mailto:."""
    return str(icalendar.Calendar.from_ical(calendar_of(message)[1]).walk("VEVENT")[0]["ORGANIZER"])[len("mailto:"):]


def by_recipient(smtp_server) -> dict:
    return {received.recipients[0]: received.message for received in smtp_server.messages}


def test_send_delivers_one_calendar_invitation_per_invitee(smtp_app, smtp_server, make_person, make_event):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person)
    event = make_event(organiser=organiser, capacity=6)
    response = propose_and_send(client, event)
    assert response.status_code == 302
    assert len(smtp_server.messages) == 6
    invitations = db.session.scalars(select(Invitation)).all()
    assert len(invitations) == 6
    received = {m.message["To"].addresses[0].addr_spec: m.message for m in smtp_server.messages}
    assert set(received) == {inv.person.email for inv in invitations}
    message = next(iter(received.values()))
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    calendar_part = list(message.iter_parts())[2]
    assert calendar_part.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(calendar_part.get_payload(decode=True))
    assert calendar["METHOD"] == "REQUEST"
    vevent = calendar.walk("VEVENT")[0]
    assert str(vevent["UID"]) == db.session.get(Event, event.id).uid
    assert vevent["SEQUENCE"] == 0 and vevent["STATUS"] == "CONFIRMED"
    attendee = vevent["ATTENDEE"]
    assert attendee.params["RSVP"] == "TRUE" and attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert str(vevent["ORGANIZER"]).lower().startswith("mailto:rsvp+")
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert calendar.walk("VTIMEZONE")
    assert db.session.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.state == MailState.SENT)) == 6


def test_a_written_reply_goes_to_the_organiser_and_the_calendar_reply_to_the_reply_address(
    smtp_app, smtp_server, make_person, make_event
):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 2)
    event = make_event(organiser=organiser, capacity=2)
    propose_and_send(client, event)
    invitations = list(by_recipient(smtp_server).values())
    smtp_server.messages.clear()
    page = client.get(f"/events/{event.id}/cancel")
    client.post(f"/events/{event.id}/cancel", data={"csrf_token": csrf_from(page.data)})
    cancellations = list(by_recipient(smtp_server).values())
    assert len(invitations) == len(cancellations) == 2
    for message in invitations + cancellations:
        assert message["Reply-To"] == ORGANISER_REPLY_TO
        assert REPLY_ADDRESS.fullmatch(organizer_of(message))
        assert organiser.email not in organizer_of(message)


def test_follow_up_mail_carries_the_first_link_and_reply_address_without_the_outbox(
    smtp_app, smtp_server, make_person, make_event
):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 3)
    event = make_event(organiser=organiser, capacity=3)
    propose_and_send(client, event)
    first = {email: (rsvp_link(message), organizer_of(message)) for email, message in by_recipient(smtp_server).items()}
    hashes = {inv.id: (inv.token_hash, inv.reply_token_hash) for inv in db.session.scalars(select(Invitation))}
    db.session.execute(delete(OutgoingMail))  # the outbox purged: follow-ups must not need it
    db.session.commit()
    smtp_server.messages.clear()
    _, data = edit(client, db.session.get(Event, event.id), location="Roof terrace")
    assert client.post(f"/events/{event.id}/edit/confirm", data=data).status_code == 302
    updates = by_recipient(smtp_server)
    assert {email: (rsvp_link(message), organizer_of(message)) for email, message in updates.items()} == first
    raw_updates = {received.recipients[0]: received.data for received in smtp_server.messages}
    for message in updates.values():
        assert message["Reply-To"] == ORGANISER_REPLY_TO
        assert_conformant(message, "REQUEST", 1)
    db.session.expire_all()
    assert {inv.id: (inv.token_hash, inv.reply_token_hash) for inv in db.session.scalars(select(Invitation))} == hashes
    email, (link, _) = next(iter(first.items()))
    assert smtp_app.test_client().get(link).status_code == 200
    code, output = ingest_cli(smtp_app, client_reply(raw_updates[email], "ACCEPTED", sequence=1))
    assert (code, output.strip()) == (0, "applied: answer yes (ACCEPTED)")


def test_the_database_alone_holds_no_working_token(smtp_app, smtp_server, make_person, make_event):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 2)
    event = make_event(organiser=organiser, capacity=2)
    propose_and_send(client, event)
    request = smtp_server.messages[0].data
    db.session.execute(delete(OutgoingMail))
    db.session.commit()
    stored = [
        value
        for invitation in db.session.scalars(select(Invitation))
        for value in (invitation.token_seed, invitation.token_hash, invitation.reply_token_hash)
    ]
    assert all(stored) and all(len(seed) >= 43 for seed in db.session.scalars(select(Invitation.token_seed)))
    guesses = {form for value in stored for form in (value, value[:32], value.lower()[:32])}
    anonymous = smtp_app.test_client()
    for guess in guesses:
        assert anonymous.get(f"/rsvp/{guess}").status_code == 404
        code, output = ingest_cli(smtp_app, readdressed(client_reply(request), f"rsvp+{guess}@planner.example.com"))
        assert output.startswith("rejected:"), output
    seed = db.session.scalars(select(Invitation.token_seed)).first()
    assert anonymous.get(f"/rsvp/{derived_token('another-secret', seed)}").status_code == 404
    assert anonymous.get(f"/rsvp/{derived_token(smtp_app.config['SECRET_KEY'], seed)}").status_code == 200


def test_line_breaks_in_stored_names_and_titles_neither_fail_the_send_nor_add_headers(
    smtp_app, smtp_server, make_person, make_event
):
    client = smtp_app.test_client()
    organiser = log_in(client)
    make_person(email="eve@example.com", name="Eve\r\nBcc: x@evil.example", department="Sales")
    make_person(email="tab@example.com", name="Tab\tControl\x1b\x7f Person", department="People")
    event = make_event(organiser=organiser, capacity=2)
    db.session.get(Event, event.id).title = "Team\nlunch"
    db.session.get(Organiser, organiser.id).name = "Bea\r\nBoss"
    db.session.commit()
    response = propose_and_send(client, event)
    assert response.status_code == 302
    page = client.get(f"/events/{event.id}/cancel")
    assert client.post(f"/events/{event.id}/cancel", data={"csrf_token": csrf_from(page.data)}).status_code == 302
    assert len(smtp_server.messages) == 4
    expected = {"Subject", "From", "Reply-To", "To", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type"}
    for received in smtp_server.messages:
        assert received.recipients in (["eve@example.com"], ["tab@example.com"])
        message = parse_mail(received.data)
        assert not message.defects
        assert set(message.keys()) == expected, message.keys()
        assert message["Subject"].startswith(("Invitation: Team lunch on", "Cancelled: Team lunch on"))
        assert message["From"].addresses[0].display_name.startswith("Bea Boss via ")
        assert message["Reply-To"] == ORGANISER_REPLY_TO
        assert message["To"].addresses[0].display_name in ("Eve Bcc: x@evil.example", "Tab Control Person")
        method, sequence = ("REQUEST", 0) if message["Subject"].startswith("Invitation") else ("CANCEL", 1)
        vevent = assert_conformant(message, method, sequence)
        assert str(vevent["SUMMARY"]) == "Team lunch" and vevent["ORGANIZER"].params["CN"] == "Bea Boss"
        assert vevent["ATTENDEE"].params["CN"] in ("Eve Bcc: x@evil.example", "Tab Control Person")
    assert db.session.scalar(select(func.count(Invitation.id))) == 2
    assert {p.name for p in db.session.scalars(select(Person))} >= {"Eve\r\nBcc: x@evil.example"}, "stored data is kept"


def test_after_the_secret_key_changes_a_follow_up_carries_fresh_working_addresses(
    smtp_app, smtp_server, make_person, make_event
):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 1)
    event = make_event(organiser=organiser, capacity=1)
    propose_and_send(client, event)
    first = smtp_server.messages[0].message
    invitation = db.session.scalars(select(Invitation)).one()
    mail = queue_change(db.session, invitation, replace(mail_settings(), secret_key="a rotated key"), utcnow(), kind="update")
    db.session.commit()
    update = parse_mail(mail.raw)
    assert rsvp_link(update) != rsvp_link(first) and organizer_of(update) != organizer_of(first)
    assert REPLY_ADDRESS.fullmatch(organizer_of(update))
    anonymous = smtp_app.test_client()
    assert anonymous.get(rsvp_link(update)).status_code == 200
    assert anonymous.get(rsvp_link(first)).status_code == 404
