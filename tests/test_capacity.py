"""Seats: a yes beyond the capacity waits, freed seats go to the waiting list by mail, declined seats are backfilled."""

import threading

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Answer, Event, Invitation, OutgoingMail, ProposalEntry
from tests.helpers import csrf_from, parse_mail, rsvp_link
from tests.test_changes import form_values
from tests.test_invites import log_in, propose_and_send
from tests.test_replies import client_reply, ingest_cli

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

    def hold_after_counting(conn, cursor, statement, parameters, context, executemany):
        """Keep a thread that has counted the seats until the other has counted too, unless the lock keeps it out."""
        if "count(invitation.id)" in statement:
            try:
                counted.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass

    threads = [threading.Thread(target=answer_yes, args=args) for args in zip(browsers, links[1:], tokens)]
    sqlalchemy_event.listen(db.engine, "after_cursor_execute", hold_after_counting)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sqlalchemy_event.remove(db.engine, "after_cursor_execute", hold_after_counting)
    assert statuses == [303, 303]
    db.session.expire_all()
    answers = sorted(inv.answer for inv in db.session.scalars(select(Invitation)))
    assert answers == sorted([Answer.YES, Answer.YES, Answer.WAITLIST])
