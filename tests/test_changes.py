"""Changing a sent event over a real SMTP server: updates, un-invitations and cancellations keep calendars in step."""

import re

import icalendar
import pytest
from flask import g
from sqlalchemy import delete, select

from planner.extensions import db
from planner.models import Answer, Event, EventStatus, Invitation, OutgoingMail
from planner.services.events import local
from tests.helpers import (
    assert_conformant,
    calendar_of,
    csrf_from,
    edit,
    form_values,
    log_in,
    parse_mail,
    propose_and_send,
    rsvp_link,
    staff,
)


@pytest.fixture
def sent(smtp_app, smtp_server, make_person, make_event):
    """A logged-in client and an event whose four invitations went out over SMTP."""
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 3)
    make_person(name="Ops; Night, Shift: Team", department="People")
    event = make_event(organiser=organiser, capacity=4)
    propose_and_send(client, event)
    assert len(smtp_server.messages) == 4
    smtp_server.messages.clear()
    return client, db.session.get(Event, event.id)


def test_edit_time_previews_then_sends_an_update_with_same_uid_and_higher_sequence(sent, smtp_server):
    client, event = sent
    first_links = {inv.id: inv.token_hash for inv in event.invitations}
    preview, data = edit(client, event, start="13:00", end="14:00", location="Roof terrace")
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "These 4 people will get an update" in text
    assert "12:00–13:00" in text and "13:00–14:00" in text and "Roof terrace" in text
    assert not smtp_server.messages, "nothing is sent before confirming"
    assert client.post(f"/events/{event.id}/edit/confirm", data=data).status_code == 302
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    assert event.sequence == 1 and local(event.starts_at, event).hour == 13
    assert len(smtp_server.messages) == 4
    for received in smtp_server.messages:
        message = received.message
        assert message["Subject"].startswith("Updated: Team lunch")
        vevent = assert_conformant(message, "REQUEST", 1)
        assert str(vevent["UID"]) == event.uid
        assert vevent["DTSTART"].dt.hour == 13
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert "The time changed from" in body and "to " in body and "13:00–14:00" in body
        assert "The place changed from Canteen, 2nd floor to Roof terrace." in body
        html = message.get_body(preferencelist=("html",)).get_content()
        assert "The time changed from" in html
        assert message["Message-ID"].endswith("@planner.example.com>")
    assert {inv.id: inv.token_hash for inv in event.invitations} == first_links, "no token rotation"


def test_update_keeps_the_first_reply_address_and_a_working_rsvp_link(sent, smtp_server, smtp_app):
    client, event = sent
    first = {m.recipient: m.raw for m in db.session.scalars(select(OutgoingMail))}
    _, data = edit(client, event, title="Team lunch, moved")
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    message = smtp_server.messages[0].message
    recipient = message["To"].addresses[0].addr_spec
    original = icalendar.Calendar.from_ical(calendar_of(parse_mail(first[recipient]))[1]).walk("VEVENT")[0]
    updated = icalendar.Calendar.from_ical(calendar_of(message)[1]).walk("VEVENT")[0]
    assert str(updated["ORGANIZER"]) == str(original["ORGANIZER"])
    assert "“Team lunch” to “Team lunch, moved”" in message.get_body(preferencelist=("plain",)).get_content()
    link = rsvp_link(message)
    invitee = smtp_app.test_client()
    page = invitee.get(link)
    assert page.status_code == 200
    invitee.post(link, data={"answer": "yes", "csrf_token": csrf_from(page.data)})
    db.session.expire_all()
    person_email = recipient
    invitation = next(inv for inv in db.session.scalars(select(Invitation)) if inv.person.email == person_email)
    assert invitation.answer == Answer.YES


def test_edit_that_changes_nothing_calendars_show_sends_nothing(sent, smtp_server):
    client, event = sent
    preview, data = edit(client, event, capacity="6")
    assert "nobody gets mail" in preview.get_data(as_text=True)
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    db.session.expire_all()
    assert db.session.get(Event, event.id).capacity == 6 and db.session.get(Event, event.id).sequence == 0
    assert not smtp_server.messages


@pytest.mark.parametrize(("changes", "message"), [
    ({"start": "14:00", "end": "13:00"}, "The event must end after it starts."),
    ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
    ({"title": ""}, "This field is required."),
])
def test_bad_edit_shows_the_form_again_with_the_reason_and_changes_nothing(sent, smtp_server, changes, message):
    client, event = sent
    preview, _ = edit(client, event, **changes)
    assert preview.status_code == 400
    assert message in preview.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Event, event.id).sequence == 0 and not smtp_server.messages


def test_edit_into_the_past_is_refused_at_confirm_too(sent, smtp_server):
    client, event = sent
    page = client.get(f"/events/{event.id}/edit")
    data = {**form_values(event, day="2020-01-01", rsvp_deadline=""), "csrf_token": csrf_from(page.data)}
    response = client.post(f"/events/{event.id}/edit/confirm", data=data)
    assert response.status_code == 409 and "must start in the future" in response.get_data(as_text=True)
    assert not smtp_server.messages


def test_uninvite_sends_a_cancel_to_that_person_only(sent, smtp_server):
    client, event = sent
    target = event.invitations[0]
    page = client.get(f"/events/{event.id}/invitations/{target.id}/uninvite")
    assert f"Only {target.person.name}" in page.get_data(as_text=True)
    response = client.post(f"/events/{event.id}/invitations/{target.id}/uninvite", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 302
    assert [m.recipients for m in smtp_server.messages] == [[target.person.email]]
    message = smtp_server.messages[0].message
    assert message["Subject"].startswith("Cancelled: ")
    vevent = assert_conformant(message, "CANCEL", 0)
    assert "STATUS" not in vevent and str(vevent["UID"]) == event.uid
    assert "withdrawn your invitation" in message.get_body(preferencelist=("plain",)).get_content()
    db.session.expire_all()
    assert db.session.get(Invitation, target.id).cancelled_at is not None
    again = client.post(f"/events/{event.id}/invitations/{target.id}/uninvite", data={"csrf_token": csrf_from(page.data)})
    assert "already un-invited" in client.get(again.location).get_data(as_text=True)
    assert len(smtp_server.messages) == 1


def test_after_an_uninvite_an_update_skips_that_person(sent, smtp_server):
    client, event = sent
    target = event.invitations[1]
    page = client.get(f"/events/{event.id}/invitations/{target.id}/uninvite")
    client.post(f"/events/{event.id}/invitations/{target.id}/uninvite", data={"csrf_token": csrf_from(page.data)})
    smtp_server.messages.clear()
    _, data = edit(client, event, start="12:30")
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    assert len(smtp_server.messages) == 3
    assert target.person.email not in {r for m in smtp_server.messages for r in m.recipients}


def test_cancel_event_previews_then_sends_cancel_with_status_cancelled_to_all(sent, smtp_server):
    client, event = sent
    page = client.get(f"/events/{event.id}/cancel")
    assert "These 4 people will get a cancellation" in page.get_data(as_text=True)
    assert not smtp_server.messages
    assert client.post(f"/events/{event.id}/cancel", data={"csrf_token": csrf_from(page.data)}).status_code == 302
    assert len(smtp_server.messages) == 4
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    assert event.status == EventStatus.CANCELLED and event.cancelled_at and event.sequence == 1
    for received in smtp_server.messages:
        vevent = assert_conformant(received.message, "CANCEL", 1)
        assert vevent["STATUS"] == "CANCELLED" and str(vevent["UID"]) == event.uid
        assert received.message["Subject"].startswith("Cancelled: ")
        assert "cancelled" in received.message.get_body(preferencelist=("plain",)).get_content()
    detail = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Cancelled on" in detail and "Edit event" not in detail
    again = client.post(f"/events/{event.id}/cancel", data={"csrf_token": csrf_from(page.data)})
    assert "only once" in client.get(again.location).get_data(as_text=True)
    assert len(smtp_server.messages) == 4


def test_the_link_of_an_uninvited_person_no_longer_answers(sent, smtp_server, smtp_app):
    client, event = sent
    target = event.invitations[0]
    first_mail = db.session.scalars(select(OutgoingMail.raw).where(OutgoingMail.invitation_id == target.id)).first()
    link = rsvp_link(parse_mail(first_mail))
    invitee = smtp_app.test_client()
    token = csrf_from(invitee.get(link).data)  # the form of a tab opened before: the withdrawn page offers none
    page = client.get(f"/events/{event.id}/invitations/{target.id}/uninvite")
    client.post(f"/events/{event.id}/invitations/{target.id}/uninvite", data={"csrf_token": csrf_from(page.data)})
    assert b"<form" not in invitee.get(link).data.split(b"<main>")[1]
    response = invitee.post(link, data={"answer": "yes", "csrf_token": token})
    assert response.status_code == 409 and "withdrawn" in response.get_data(as_text=True)


def test_change_pages_need_login_post_and_csrf(sent, smtp_app, smtp_server):
    client, event = sent
    assert client.post(f"/events/{event.id}/cancel", data={}).status_code == 400
    other = event.invitations[0]
    assert client.get(f"/events/{event.id + 1}/invitations/{other.id}/uninvite").status_code == 404
    anonymous = smtp_app.test_client()
    g.pop("_login_user", None)  # the shared test app context caches the last request's user
    for path in (f"/events/{event.id}/edit", f"/events/{event.id}/cancel"):
        assert anonymous.get(path).status_code == 302
    assert not smtp_server.messages


def test_draft_events_offer_no_change_actions(smtp_app, make_event):
    client = smtp_app.test_client()
    organiser = log_in(client)
    event = make_event(organiser=organiser)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Edit event" not in page
    edit_page = client.get(f"/events/{event.id}/edit")
    data = {**form_values(event, start="13:00", end="14:00"), "csrf_token": csrf_from(edit_page.data)}
    response = client.post(f"/events/{event.id}/edit", data=data)
    assert response.status_code == 400 and "invitations were sent" in response.get_data(as_text=True)


def test_sequence_rises_from_update_to_cancel(sent, smtp_server):
    client, event = sent
    _, data = edit(client, event, location="Room 4")
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    page = client.get(f"/events/{event.id}/cancel")
    client.post(f"/events/{event.id}/cancel", data={"csrf_token": csrf_from(page.data)})
    sequences = [
        (m.message["Subject"].split(":")[0], icalendar.Calendar.from_ical(calendar_of(m.message)[1]).walk("VEVENT")[0]["SEQUENCE"])
        for m in smtp_server.messages
    ]
    assert sequences == [("Updated", 1)] * 4 + [("Cancelled", 2)] * 4
    for received in smtp_server.messages[4:]:
        assert_conformant(received.message, "CANCEL", 2)


def test_an_invitation_from_before_token_seeds_gets_fresh_working_addresses_at_its_update(sent, smtp_server, smtp_app):
    client, event = sent
    target = event.invitations[0]
    old_hashes = (target.token_hash, target.reply_token_hash)
    target.token_seed = None  # as sent before invitations kept a seed
    db.session.execute(delete(OutgoingMail).where(OutgoingMail.invitation_id == target.id))
    db.session.commit()
    _, data = edit(client, event, location="Room 7")
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    db.session.expire_all()
    target = db.session.get(Invitation, target.id)
    assert (target.token_hash, target.reply_token_hash) != old_hashes
    message = next(m.message for m in smtp_server.messages if m.recipients == [target.person.email])
    organizer = str(icalendar.Calendar.from_ical(calendar_of(message)[1]).walk("VEVENT")[0]["ORGANIZER"])
    assert re.fullmatch(r"mailto:rsvp\+[a-z2-7]{32}@planner\.example\.com", organizer)
    invitee = smtp_app.test_client()
    assert invitee.get(rsvp_link(message)).status_code == 200
