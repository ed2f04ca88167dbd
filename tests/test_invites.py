"""Proposing and sending: invitations, tokens and mail over a real SMTP server, then answering."""

import re
from datetime import timedelta

from sqlalchemy import func, insert, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Answer, Event, Invitation, MailState, OutgoingMail, Person, ProposalEntry
from planner.services.invites import send_invites
from planner.tokens import hash_token
from tests.helpers import csrf_from, log_in, parse_mail, propose_and_send, rsvp_link, sent_event, staff, statements

#: what sending an event's invitations costs, whatever their number
SEND_STATEMENTS = 8


def test_tokens_are_stored_hashed_and_the_link_answers(smtp_app, smtp_server, make_person, make_event):
    client, event, link = sent_event(smtp_app, smtp_server, make_person, make_event, 3)
    message = smtp_server.messages[0].message
    token = link.rsplit("/", 1)[1]
    assert not db.session.scalar(select(Invitation).where(Invitation.token_hash == token))
    raw_outbox = b"".join(db.session.scalars(select(OutgoingMail.raw)))
    assert raw_outbox  # the body is kept for resending
    invitee = anonymous = smtp_app.test_client()
    page = anonymous.get(link)
    assert page.status_code == 200 and b"Your answer: <strong>not given yet" in page.data
    assert b"Staff" in page.data
    others = [inv.person.name for inv in db.session.scalars(select(Invitation)) if inv.person.email != message["To"].addresses[0].addr_spec]
    assert all(name.encode() not in page.data for name in others), "an RSVP page shows nobody else"
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    answered = invitee.post(link, data={"csrf_token": csrf_from(page.data), "answer": "yes", "comment": "Vegetarian please"})
    assert answered.status_code == 303, answered.data.decode()[-1500:]
    assert b"Your answer: <strong>yes" in invitee.get(link).data
    invitation = db.session.scalar(select(Invitation).where(Invitation.answer == Answer.YES))
    assert invitation.person.email == message["To"].addresses[0].addr_spec and invitation.comment == "Vegetarian please"
    overview = client.get(f"/events/{event.id}").data.decode()
    assert "yes 1" in overview and "waiting 2" in overview and "Vegetarian please" in overview


def test_answer_can_change_until_the_deadline_then_is_refused(smtp_app, smtp_server, make_person, make_event):
    client, event, link = sent_event(smtp_app, smtp_server, make_person, make_event, 2)
    invitee = smtp_app.test_client()
    for answer in ("yes", "no", "maybe"):
        token = csrf_from(invitee.get(link).data)
        invitee.post(link, data={"csrf_token": token, "answer": answer})
    assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.answer == Answer.MAYBE)) == 1
    token = csrf_from(invitee.get(link).data)
    stored = db.session.get(Event, event.id)
    stored.rsvp_deadline_at = stored.created_at - timedelta(minutes=1)
    db.session.commit()
    late = invitee.post(link, data={"csrf_token": token, "answer": "yes"})
    assert late.status_code == 409 and b"Answers for this event are closed." in late.data
    assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.answer == Answer.YES)) == 0


def test_get_never_changes_an_answer_and_bad_tokens_get_404(smtp_app, smtp_server, make_person, make_event):
    client, event, link = sent_event(smtp_app, smtp_server, make_person, make_event, 2)
    scanner = smtp_app.test_client()
    for _ in range(3):
        scanner.get(link)
        scanner.get(link + "?answer=yes")
    assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.answer != Answer.PENDING)) == 0
    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert scanner.get(tampered).status_code == 404
    assert scanner.get("/rsvp/short").status_code == 404
    assert scanner.post(tampered, data={"answer": "yes"}).status_code in (400, 404)
    no_csrf = scanner.post(link, data={"answer": "yes"})
    assert no_csrf.status_code == 400
    assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.answer != Answer.PENDING)) == 0


def test_double_click_on_send_sends_nothing_twice(smtp_app, smtp_server, make_person, make_event):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 4)
    event = make_event(organiser=organiser, capacity=4)
    page = client.get(f"/events/{event.id}")
    token = csrf_from(page.data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    first = client.post(f"/events/{event.id}/send", data={"csrf_token": token})
    second = client.post(f"/events/{event.id}/send", data={"csrf_token": token})
    assert first.status_code == second.status_code == 302
    assert len(smtp_server.messages) == 4
    assert db.session.scalar(select(func.count(Invitation.id))) == 4
    assert "already been sent" in client.get(f"/events/{event.id}").data.decode()


def test_smtp_down_keeps_mail_queued_shows_the_error_and_a_later_run_sends(
    smtp_app, smtp_server, make_person, make_event
):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 3)
    event = make_event(organiser=organiser, capacity=3)
    smtp_server.stop()
    propose_and_send(client, event)
    page = client.get(f"/events/{event.id}").data.decode()
    assert "Mail problems" in page and "retry" in page
    assert db.session.scalar(select(func.count(Invitation.id))) == 3
    states = set(db.session.scalars(select(OutgoingMail.state)))
    assert states == {MailState.RETRY}
    db.session.execute(OutgoingMail.__table__.update().values(next_attempt_at=OutgoingMail.created_at))
    db.session.commit()
    smtp_server.start()
    result = smtp_app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "3 sent" in result.output
    assert len(smtp_server.messages) == 3
    assert "Mail problems" not in client.get(f"/events/{event.id}").data.decode()


def test_propose_shows_a_balanced_grid_and_allows_adding_and_removing(client, login, make_person, make_event):
    organiser = login()
    people = staff(make_person, 9)
    extra = make_person(email="extra@example.com", name="Extra Person", department="Finance", level=5)
    event = make_event(organiser=organiser, capacity=3)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    page = client.get(f"/events/{event.id}").data.decode()
    proposed = db.session.get(Event, event.id).proposals
    assert len(proposed) == 3 and "never invited" in page and 'id="balance"' in page
    assert len({entry.person.department for entry in proposed}) == 3 or extra in [e.person for e in proposed]
    client.post(f"/events/{event.id}/add", data={"csrf_token": token, "email": "EXTRA@example.com"})
    assert "Extra Person" in client.get(f"/events/{event.id}").data.decode()
    removed = proposed[0].person
    client.post(f"/events/{event.id}/remove", data={"csrf_token": token, "person_id": removed.id})
    names = [entry.person.name for entry in db.session.get(Event, event.id).proposals]
    assert removed.name not in names and "Extra Person" in names and len(people) == 9
    unknown = client.post(f"/events/{event.id}/add", data={"csrf_token": token, "email": "nobody@example.com"}, follow_redirects=True)
    assert b"Nobody with the email nobody@example.com" in unknown.data


def test_mail_is_kept_in_the_demo_mailbox_and_readable(client, login, make_person, make_event):
    client.application.config["DEMO_MAILBOX"] = True
    organiser = login()
    staff(make_person, 2)
    event = make_event(organiser=organiser, capacity=2)
    propose_and_send(client, event)
    index = client.get("/mailbox/").data.decode()
    assert index.count("Invitation: Team lunch") == 2
    name = re.search(r'href="/mailbox/([^"/]+\.eml)"', index).group(1)
    shown = client.get(f"/mailbox/{name}").data.decode()
    assert "/rsvp/" in shown
    ics = client.get(f"/mailbox/{name}/invite.ics")
    assert ics.mimetype == "text/calendar" and b"METHOD:REQUEST" in ics.data
    assert client.get("/mailbox/..%2f..%2fsecret_key").status_code == 404


def test_flash_messages_count_in_the_singular_and_the_plural(smtp_app, smtp_server, make_person, make_event):
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, 1)
    event = make_event(organiser=organiser, capacity=1)
    response = propose_and_send(client, event)
    page = client.get(response.location).get_data(as_text=True)
    assert "1 invitation queued." in page and "1 message sent." in page
    assert "1 invitations" not in page and "1 messages" not in page
    other = make_event(organiser=organiser, capacity=3)
    staff(make_person, 2)
    page = client.get(propose_and_send(client, other).location).get_data(as_text=True)
    assert "3 invitations queued." in page and "3 messages sent." in page


def sent_statements(make_event, people, count):
    """Send an event proposed to `count` of the people; return the statements the send ran and the event's id."""
    event = make_event(capacity=count)
    db.session.execute(insert(ProposalEntry), [
        {"event_id": event.id, "person_id": person_id, "reason": "test", "is_must": False} for person_id in people[:count]
    ])
    db.session.commit()
    event_id = event.id
    with statements() as executed:
        send_invites(db.session, db.session.get(Event, event_id), mail_settings())
        db.session.commit()
    return executed, event_id


def test_a_send_costs_the_same_statements_for_3_or_60_invitations_and_keeps_tokens_hashed(app, make_event):
    db.session.execute(insert(Person), [
        {"email": f"p{i}@example.com", "name": f"Person {i}", "department": f"Dept {i % 3}", "level": i % 4,
         "search_key": f"p{i}", "is_active": True, "is_opted_out": False} for i in range(60)
    ])
    db.session.commit()
    people = list(db.session.scalars(select(Person.id).order_by(Person.id)))
    few, _ = sent_statements(make_event, people, 3)
    many, event_id = sent_statements(make_event, people, 60)
    assert len(few) == len(many), "\n".join(s[:90] for s in many)
    assert len(many) == SEND_STATEMENTS, many
    invitations = db.session.scalars(select(Invitation).where(Invitation.event_id == event_id)).all()
    assert len(invitations) == 60 and len({inv.token_hash for inv in invitations}) == 60
    mails = db.session.scalars(select(OutgoingMail).where(OutgoingMail.event_id == event_id)).all()
    assert sorted(mail.invitation_id for mail in mails) == sorted(inv.id for inv in invitations)
    by_id = {inv.id: inv for inv in invitations}
    for mail in mails:
        invitation = by_id[mail.invitation_id]
        token = rsvp_link(parse_mail(mail.raw)).rsplit("/", 1)[1]
        assert hash_token(token) == invitation.token_hash and token != invitation.token_hash
        assert mail.recipient == invitation.person.email and mail.state == MailState.QUEUED
