"""Seats: a yes beyond the capacity waits, freed seats go to the waiting list by mail, declined seats are backfilled."""

import re
import threading
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import (
    Answer,
    Event,
    Invitation,
    OutgoingMail,
    Person,
    ProposalEntry,
    utcnow,
)
from planner.services.capacity import waiting_list
from planner.services.rsvp import record_answer
from tests.helpers import (
    client_reply,
    csrf_from,
    form_values,
    holding_after,
    ingest_cli,
    log_in,
    parse_mail,
    propose_and_send,
    rsvp_link,
    run_threads_listening,
)

SEAT_SUBJECT = "A seat is free: you are in"


def invitees(make_person):
    """Three people in three departments: the first two fill a two-seat event, the third is added by hand."""
    return [
        make_person(email="ana@example.com", name="Ana", department="Sales", level=1),
        make_person(email="ben@example.com", name="Ben", department="Engineering", level=2),
        make_person(email="cal@example.com", name="Cal", department="People", level=3),
    ]


@pytest.fixture
def full(smtp_app, smtp_server, make_person, make_event):
    """A two-seat event with three invitations (one added by hand) sent over SMTP; returns (client, event, links)."""
    client = smtp_app.test_client()
    organiser = log_in(client)
    invitees(make_person)
    event = make_event(organiser=organiser, capacity=2)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    proposed = {entry.person.email for entry in db.session.get(Event, event.id).proposals}
    extra = ({"ana@example.com", "ben@example.com", "cal@example.com"} - proposed).pop()
    client.post(f"/events/{event.id}/add", data={"csrf_token": token, "email": extra})
    client.post(f"/events/{event.id}/send", data={"csrf_token": token})
    links = {m.recipients[0]: rsvp_link(m.message) for m in smtp_server.messages}
    assert len(links) == 3
    smtp_server.messages.clear()
    return client, db.session.get(Event, event.id), links


def answer(app, link: str, choice: str, comment: str = ""):
    """Answer on the RSVP page as the invitee would, from a fresh browser."""
    invitee = app.test_client()
    token = csrf_from(invitee.get(link).data)
    response = invitee.post(link, data={"csrf_token": token, "answer": choice, "comment": comment})
    assert response.status_code == 303, response.data.decode()[-800:]
    db.session.expire_all()
    return invitee.get(link).get_data(as_text=True)


def answer_of(email: str) -> Answer:
    db.session.expire_all()
    return next(inv.answer for inv in db.session.scalars(select(Invitation)) if inv.person.email == email)


def seat_mails(smtp_server):
    return [m.message for m in smtp_server.messages if str(m.message["Subject"]).startswith(SEAT_SUBJECT)]


def test_a_yes_when_full_goes_on_the_waiting_list_with_its_position(full, smtp_app, smtp_server):
    client, event, links = full
    first, second, third = links
    answer(smtp_app, links[first], "yes")
    answer(smtp_app, links[second], "yes")
    page = answer(smtp_app, links[third], "yes")
    assert "The event is full: you are on the waiting list (position 1)" in page
    assert answer_of(third) == Answer.WAITLIST
    again = answer(smtp_app, links[third], "yes", "happy to wait")
    assert "(position 1)" in again and answer_of(third) == Answer.WAITLIST
    overview = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "yes 2 of 2 seats" in overview and "waitlist 1" in overview and 'class="waitlisted"' in overview
    seated = answer(smtp_app, links[first], "yes")
    assert "waiting list" not in seated
    assert seat_mails(smtp_server) == []


def test_a_decline_gives_the_seat_to_the_oldest_waiting_with_a_mail(full, smtp_app, smtp_server):
    client, event, links = full
    first, second, third = links
    for email in links:
        answer(smtp_app, links[email], "yes")
    answer(smtp_app, links[first], "no")
    assert answer_of(third) == Answer.YES and answer_of(first) == Answer.NO
    mails = seat_mails(smtp_server)
    assert [m["To"].addresses[0].addr_spec for m in mails] == [third]
    message = parse_mail(smtp_server.messages[-1].data)
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert "A seat is free: you are in" in message.get_body(("plain",)).get_content()
    assert "A seat is free: you are in" in message.get_body(("html",)).get_content()
    assert rsvp_link(message) == links[third]
    page = smtp_app.test_client().get(links[third]).get_data(as_text=True)
    assert "yes, I will come" in page and "waiting list" not in page
    assert db.session.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.subject.startswith(SEAT_SUBJECT))) == 1


def test_waiting_list_is_first_come_first_served_and_leaving_it_frees_no_seat(full, smtp_app, smtp_server):
    client, event, links = full
    first, second, third = links
    answer(smtp_app, links[first], "yes")
    db.session.get(Event, event.id).capacity = 1
    db.session.commit()
    answer(smtp_app, links[second], "yes")
    page = answer(smtp_app, links[third], "yes")
    assert "(position 2)" in page
    answer(smtp_app, links[second], "maybe")
    assert "(position 1)" in smtp_app.test_client().get(links[third]).get_data(as_text=True)
    assert answer_of(first) == Answer.YES and seat_mails(smtp_server) == []


def test_raising_the_capacity_promotes_the_waiting(full, smtp_app, smtp_server):
    client, event, links = full
    for email in links:
        answer(smtp_app, links[email], "yes")
    third = list(links)[2]
    values = form_values(db.session.get(Event, event.id), capacity="3")
    token = csrf_from(client.get(f"/events/{event.id}/edit").data)
    response = client.post(f"/events/{event.id}/edit/confirm", data={**values, "csrf_token": token})
    assert response.status_code == 302
    assert answer_of(third) == Answer.YES
    assert [m["To"].addresses[0].addr_spec for m in seat_mails(smtp_server)] == [third]
    assert "yes 3 of 3 seats" in client.get(f"/events/{event.id}").get_data(as_text=True)


def test_uninviting_a_yes_promotes_the_waiting(full, smtp_app, smtp_server):
    client, event, links = full
    first, second, third = links
    for email in links:
        answer(smtp_app, links[email], "yes")
    gone = next(inv for inv in db.session.get(Event, event.id).invitations if inv.person.email == first)
    page = client.get(f"/events/{event.id}/invitations/{gone.id}/uninvite")
    client.post(f"/events/{event.id}/invitations/{gone.id}/uninvite", data={"csrf_token": csrf_from(page.data)})
    assert answer_of(third) == Answer.YES
    assert [m["To"].addresses[0].addr_spec for m in seat_mails(smtp_server)] == [third]


def name_of(email: str) -> str:
    return db.session.scalar(select(Person.name).where(Person.email == email))


def listed(page: str, list_id: str) -> list[str]:
    """The names in the <ul id=list_id> of a page, or [] when it has none."""
    found = re.search(rf'<ul class="columns" id="{list_id}">(.*?)</ul>', page, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1)) if found else []


def test_the_edit_preview_names_who_a_higher_capacity_seats(full, smtp_app, smtp_server):
    client, event, links = full
    for email in links:
        answer(smtp_app, links[email], "yes")
    third = list(links)[2]
    page = client.get(f"/events/{event.id}/edit")
    data = {**form_values(db.session.get(Event, event.id), capacity="3"), "csrf_token": csrf_from(page.data)}
    preview = client.post(f"/events/{event.id}/edit", data=data).get_data(as_text=True)
    assert "nobody gets mail" not in preview
    assert listed(preview, "promoted") == [name_of(third)] and "A seat is free" in preview
    assert not smtp_server.messages, "nothing is sent before confirming"
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    assert [m["To"].addresses[0].addr_spec for m in seat_mails(smtp_server)] == [third]
    assert len(smtp_server.messages) == 1


def test_the_uninvite_preview_names_who_gets_the_freed_seat(full, smtp_app, smtp_server):
    client, event, links = full
    first, second, third = links
    for email in links:
        answer(smtp_app, links[email], "yes")
    waiting = invitation_id(event, third)
    page = client.get(f"/events/{event.id}/invitations/{waiting}/uninvite").get_data(as_text=True)
    assert "nobody else is told" in page and listed(page, "promoted") == []
    gone = invitation_id(event, first)
    page = client.get(f"/events/{event.id}/invitations/{gone}/uninvite").get_data(as_text=True)
    assert "nobody else is told" not in page
    assert listed(page, "promoted") == [name_of(third)] and "A seat is free" in page
    client.post(f"/events/{event.id}/invitations/{gone}/uninvite", data={"csrf_token": csrf_from(page.encode())})
    assert sorted(m.recipients[0] for m in smtp_server.messages) == sorted([first, third])
    assert [m["To"].addresses[0].addr_spec for m in seat_mails(smtp_server)] == [third]


def test_the_waiting_list_follows_the_order_in_which_answers_got_the_event_lock(full, smtp_app, smtp_server):
    client, event, links = full
    first, second, third = links
    answer(smtp_app, links[first], "yes")
    db.session.get(Event, event.id).capacity = 1
    db.session.commit()
    arrived = utcnow()
    # the second person's answer arrived first but got the lock after the third person's
    for email, came_at in ((third, arrived), (second, arrived - timedelta(minutes=1))):
        invitation = db.session.get(Invitation, invitation_id(event, email))
        record_answer(db.session, invitation, "yes", came_at, settings=mail_settings())
        db.session.commit()
    assert [inv.person.email for inv in waiting_list(db.session, db.session.get(Event, event.id))] == [third, second]
    assert "(position 1)" in smtp_app.test_client().get(links[third]).get_data(as_text=True)
    answer(smtp_app, links[first], "no")
    assert answer_of(third) == Answer.YES and answer_of(second) == Answer.WAITLIST
    assert [m["To"].addresses[0].addr_spec for m in seat_mails(smtp_server)] == [third]


def test_a_calendar_accept_when_full_waits_too(smtp_app, smtp_server, make_person, make_event):
    client = smtp_app.test_client()
    organiser = log_in(client)
    invitees(make_person)
    event = make_event(organiser=organiser, capacity=3)
    propose_and_send(client, event)
    requests = {m.recipients[0]: m.data for m in smtp_server.messages}
    db.session.get(Event, event.id).capacity = 2
    db.session.commit()
    outputs = [ingest_cli(smtp_app, client_reply(raw, "ACCEPTED"))[1].strip() for raw in requests.values()]
    assert outputs == ["applied: answer yes (ACCEPTED)"] * 2 + ["applied: answer waitlist (ACCEPTED)"]
    last = list(requests)[2]
    assert answer_of(last) == Answer.WAITLIST
    code, output = ingest_cli(smtp_app, client_reply(requests[list(requests)[0]], "DECLINED"))
    assert (code, output.strip()) == (0, "applied: answer no (DECLINED)")
    assert answer_of(last) == Answer.YES
    assert db.session.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.subject.startswith(SEAT_SUBJECT))) == 1


#: the statement an answer counts the seats with (services.capacity._SEATS)
SEAT_COUNT = re.compile(r"^SELECT \(SELECT count\(\*\) AS count_1 \nFROM invitation")


def test_two_people_answering_yes_for_the_last_seat_at_once_get_one_seat(app, client, login, make_person, make_event):
    organiser = login()
    invitees(make_person)
    event = make_event(organiser=organiser, capacity=3)
    propose_and_send(client, event)
    links = [rsvp_link(parse_mail(raw)) for raw in db.session.scalars(select(OutgoingMail.raw).order_by(OutgoingMail.id))]
    db.session.get(Event, event.id).capacity = 2
    db.session.commit()
    answer(app, links[0], "yes")
    browsers = [app.test_client() for _ in links[1:]]
    tokens = [csrf_from(browser.get(link).data) for browser, link in zip(browsers, links[1:])]
    start, counted = threading.Barrier(2), threading.Barrier(2)
    statuses = []

    def answer_yes(browser, link, token):
        start.wait()
        statuses.append(browser.post(link, data={"csrf_token": token, "answer": "yes"}).status_code)

    threads = [threading.Thread(target=answer_yes, args=args) for args in zip(browsers, links[1:], tokens)]
    run_threads_listening(threads, holding_after(SEAT_COUNT.match, counted))
    assert statuses == [303, 303]
    db.session.expire_all()
    answers = sorted(inv.answer for inv in db.session.scalars(select(Invitation)))
    assert answers == sorted([Answer.YES, Answer.YES, Answer.WAITLIST])


@pytest.fixture
def declined(smtp_app, smtp_server, make_person, make_event):
    """Ana, Ben and Cal invited to a three-seat event over SMTP, Ana declined; then more staff joined.

    Dan shares Ana's department and level; Eve and Fay each share only one of them.
    """
    client = smtp_app.test_client()
    organiser = log_in(client)
    invitees(make_person)
    event = make_event(organiser=organiser, capacity=3)
    propose_and_send(client, event)
    links = {m.recipients[0]: rsvp_link(m.message) for m in smtp_server.messages}
    make_person(email="eve@example.com", name="Eve", department="Engineering", level=1)
    make_person(email="dan@example.com", name="Dan", department="Sales", level=1)
    make_person(email="fay@example.com", name="Fay", department="Sales", level=2)
    answer(smtp_app, links["ana@example.com"], "no")
    smtp_server.messages.clear()
    return client, db.session.get(Event, event.id), links


def invitation_id(event, email: str) -> int:
    return next(inv.id for inv in db.session.get(Event, event.id).invitations if inv.person.email == email)


def test_a_replacement_keeps_the_balance_from_the_same_cell_and_is_mailed(declined, smtp_server):
    client, event, links = declined
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Invite a replacement" in page and "Invite 1 replacement<" in page
    ana = invitation_id(event, "ana@example.com")
    response = client.post(f"/events/{event.id}/invitations/{ana}/replacement", data={"csrf_token": csrf_from(page.encode())})
    assert response.status_code == 302
    assert [m.recipients[0] for m in smtp_server.messages] == ["dan@example.com"]
    message = smtp_server.messages[0].message
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html", "text/calendar"]
    assert "Hello Dan" in message.get_body(("plain",)).get_content()
    assert b"Hello Dan" in client.application.test_client().get(rsvp_link(message)).data
    overview = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "replaced by Dan" in overview and "in place of Ana" in overview and "Invited Dan in place of Ana." in overview
    assert "Invite a replacement" not in overview
    entry = db.session.scalar(select(ProposalEntry).where(ProposalEntry.reason.startswith("in place of")))
    assert entry.person.email == "dan@example.com" and entry.reason == "in place of Ana <ana@example.com>"


def test_double_click_on_replace_invites_one_person(declined, smtp_server):
    client, event, links = declined
    token = csrf_from(client.get(f"/events/{event.id}").data)
    ana = invitation_id(event, "ana@example.com")
    for _ in range(2):
        client.post(f"/events/{event.id}/invitations/{ana}/replacement", data={"csrf_token": token})
    assert db.session.scalar(select(func.count(Invitation.id))) == 4
    assert len(smtp_server.messages) == 1
    assert "Ana was already replaced by Dan." in client.get(f"/events/{event.id}").get_data(as_text=True)
    client.post(f"/events/{event.id}/backfill", data={"csrf_token": token})
    assert db.session.scalar(select(func.count(Invitation.id))) == 4
    assert "Nobody who declined is left to replace." in client.get(f"/events/{event.id}").get_data(as_text=True)


def test_invite_n_replacements_fills_the_open_seats_once(declined, smtp_app, smtp_server):
    client, event, links = declined
    answer(smtp_app, links["ben@example.com"], "no")
    answer(smtp_app, links["cal@example.com"], "maybe")
    smtp_server.messages.clear()
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "2 open seats" in page and "Invite 2 replacements" in page
    token = csrf_from(page.encode())
    client.post(f"/events/{event.id}/backfill", data={"csrf_token": token})
    client.post(f"/events/{event.id}/backfill", data={"csrf_token": token})
    assert db.session.scalar(select(func.count(Invitation.id))) == 5
    assert sorted(m.recipients[0] for m in smtp_server.messages) == ["dan@example.com", "eve@example.com"]
    overview = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "replaced by Dan" in overview and "replaced by Eve" in overview and "Invite a replacement" not in overview


def test_no_replacement_while_the_seat_is_spoken_for_or_for_someone_who_did_not_decline(declined, smtp_app, smtp_server):
    client, event, links = declined
    stored = db.session.get(Event, event.id)
    stored.capacity = 2
    db.session.commit()
    token = csrf_from(client.get(f"/events/{event.id}").data)
    ana, ben = invitation_id(event, "ana@example.com"), invitation_id(event, "ben@example.com")
    full = client.post(f"/events/{event.id}/invitations/{ana}/replacement", data={"csrf_token": token}, follow_redirects=True)
    assert "No seat is open" in full.get_data(as_text=True)
    stored = db.session.get(Event, event.id)
    stored.capacity = 3
    db.session.commit()
    wrong = client.post(f"/events/{event.id}/invitations/{ben}/replacement", data={"csrf_token": token}, follow_redirects=True)
    assert "Only an invitee who declined can be replaced." in wrong.get_data(as_text=True)
    stored = db.session.get(Event, event.id)
    stored.rsvp_deadline_at = stored.created_at
    db.session.commit()
    late = client.post(f"/events/{event.id}/backfill", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Answers for this event are closed, so a replacement could not answer." in late
    assert "Invite a replacement" not in late
    assert db.session.scalar(select(func.count(Invitation.id))) == 3 and smtp_server.messages == []


def test_backfill_needs_post_csrf_and_login(declined, smtp_app, smtp_server):
    client, event, links = declined
    ana = invitation_id(event, "ana@example.com")
    urls = [f"/events/{event.id}/invitations/{ana}/replacement", f"/events/{event.id}/backfill"]
    stranger = smtp_app.test_client()
    for url in urls:
        assert client.get(url).status_code == 405
        assert client.post(url, data={}).status_code == 400
        g.pop("_login_user", None)  # the shared test app context caches the last request's user
        anonymous = stranger.post(url, data={"csrf_token": csrf_from(stranger.get("/auth/login").data)})
        assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]
    assert db.session.scalar(select(func.count(Invitation.id))) == 3 and smtp_server.messages == []


def test_an_answer_refused_by_a_stale_snapshot_is_tried_once_more(app, client, login, make_person, make_event):
    organiser = login()
    invitees(make_person)
    event = make_event(organiser=organiser, capacity=3)
    propose_and_send(client, event)
    link = rsvp_link(parse_mail(db.session.scalars(select(OutgoingMail.raw)).first()))
    invitee = app.test_client()
    token = csrf_from(invitee.get(link).data)
    refusals = []

    def refuse_the_first_lock(conn, cursor, statement, parameters, context, executemany):
        """Fail the first seat lock as SQLite does when a transaction's snapshot is stale."""
        if not refusals and ("FOR UPDATE" in statement or statement.startswith("UPDATE event SET capacity")):
            refusals.append(statement)
            raise OperationalError(statement, parameters, Exception("database is locked (stale snapshot)"))

    sqlalchemy_event.listen(db.engine, "before_cursor_execute", refuse_the_first_lock)
    try:
        response = invitee.post(link, data={"csrf_token": token, "answer": "yes"})
    finally:
        sqlalchemy_event.remove(db.engine, "before_cursor_execute", refuse_the_first_lock)
    assert response.status_code == 303 and len(refusals) == 1
    db.session.expire_all()
    assert [inv.answer for inv in db.session.scalars(select(Invitation)) if inv.answer != Answer.PENDING] == [Answer.YES]


def test_backfill_invites_whom_it_can_and_says_when_nobody_is_left(declined, smtp_app, smtp_server):
    client, event, links = declined
    answer(smtp_app, links["ben@example.com"], "no")
    answer(smtp_app, links["cal@example.com"], "no")
    for email in ("eve@example.com", "fay@example.com"):
        db.session.scalar(select(Person).where(Person.email == email)).is_active = False
    db.session.commit()
    smtp_server.messages.clear()
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/backfill", data={"csrf_token": token})
    assert [m.recipients[0] for m in smtp_server.messages] == ["dan@example.com"]
    ben = invitation_id(event, "ben@example.com")
    refused = client.post(f"/events/{event.id}/invitations/{ben}/replacement", data={"csrf_token": token}, follow_redirects=True)
    assert "Nobody else is available to replace Ben." in refused.get_data(as_text=True)
    again = client.post(f"/events/{event.id}/backfill", data={"csrf_token": token}, follow_redirects=True)
    assert "Nobody else is available to invite." in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Invitation.id))) == 4
