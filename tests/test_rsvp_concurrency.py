"""Answers under load: the app under gunicorn (several workers) on SQLite (WAL) and PostgreSQL, many invitees at once;
and the fixed SQL cost of the RSVP page and its answer."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Answer, Event, Invitation, Person, ProposalEntry, Question, QuestionKind, utcnow
from planner.services.accounts import create_organiser
from planner.services.invites import send_invites
from planner.services.rsvp import record_answer
from planner.tokens import derived_token
from tests.gunicorn_server import CSRF, GUNICORN, Gunicorn, answer_form
from tests.helpers import run_threads_listening, staff, statements

SECRET = "test-secret-key"  #: the key tests.helpers.make_app gives the test app, so that tokens match

under_gunicorn = pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed in this venv")


def invited_event(make_person, make_event, people: int, capacity: int) -> tuple[Event, dict[int, str]]:
    """Send an event to `people` invitees with `capacity` seats; return it and each invitation's RSVP token."""
    organiser = create_organiser(db.session, "load@example.com", "Lou Load", "correct horse battery")
    staff(make_person, people)
    event = make_event(organiser=organiser, capacity=capacity, days_ahead=10)
    for person in db.session.scalars(select(Person).order_by(Person.id)):
        event.proposals.append(ProposalEntry(person=person, reason="load test"))
    send_invites(db.session, event, mail_settings())
    db.session.commit()
    tokens = {inv.id: derived_token(SECRET, inv.token_seed) for inv in event.invitations}
    return event, tokens


def serve(app, instance: Path) -> Gunicorn:
    """The test app's database served by gunicorn with three workers."""
    return Gunicorn("wsgi:app", app.config["SQLALCHEMY_DATABASE_URI"], instance, secret=SECRET, workers=3)


def answers(event_id: int) -> list[Invitation]:
    """The event's invitations read afresh, in id order."""
    db.session.expire_all()
    return list(db.session.scalars(select(Invitation).where(Invitation.event_id == event_id).order_by(Invitation.id)))


def waiting_order(event_id: int) -> list[int]:
    """Ids of the waiting invitations, first in line first."""
    rows = [inv for inv in answers(event_id) if inv.answer == Answer.WAITLIST]
    return [inv.id for inv in sorted(rows, key=lambda inv: (inv.answered_at, inv.id))]


@under_gunicorn
def test_concurrent_answers_give_exactly_the_seats_there_are(app, make_person, make_event, tmp_path):
    capacity, people = 4, 24
    event, tokens = invited_event(make_person, make_event, people, capacity)
    ids = sorted(tokens)
    server = serve(app, tmp_path / "served")
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(lambda i: server.answer(tokens[i], "yes"), ids))
        assert all(status < 500 for run in statuses for status in run), statuses
        assert all(run == [200, 303] for run in statuses), statuses
        rows = answers(event.id)
        assert sum(inv.answer == Answer.YES for inv in rows) == capacity
        assert sum(inv.answer == Answer.WAITLIST for inv in rows) == people - capacity
        queue = waiting_order(event.id)
        stamps = {inv.id: inv.answered_at for inv in rows}
        yes_stamps = [stamps[inv.id] for inv in rows if inv.answer == Answer.YES]
        assert max(yes_stamps) <= min(stamps[i] for i in queue), "a later yes took a seat before an earlier one"
        for position, invitation_id in enumerate(queue, start=1):
            _, _, page = server.request("GET", f"/rsvp/{tokens[invitation_id]}")
            assert f"(position {position})" in page

        leaving = [inv.id for inv in rows if inv.answer == Answer.YES][:3]
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda i: server.answer(tokens[i], "no"), leaving))
        assert all(run == [200, 303] for run in statuses), statuses
        after = {inv.id: inv.answer for inv in answers(event.id)}
        assert sum(answer == Answer.YES for answer in after.values()) == capacity
        assert [i for i in queue[:3] if after[i] == Answer.YES] == queue[:3]
        assert waiting_order(event.id) == queue[3:]
        assert all(after[i] == Answer.NO for i in leaving)
    finally:
        server.close()


@under_gunicorn
def test_twenty_identical_posts_from_one_token_leave_one_answer(app, make_person, make_event, tmp_path):
    event, tokens = invited_event(make_person, make_event, 3, 2)
    token = tokens[min(tokens)]
    server = serve(app, tmp_path / "served")
    try:
        _, headers, page = server.request("GET", f"/rsvp/{token}")
        cookie, body = answer_form(headers, page, "yes", "See+you")
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: server.request("POST", f"/rsvp/{token}", body, cookie)[0], range(20)))
        assert statuses == [303] * 20
        rows = answers(event.id)
        assert [inv.answer for inv in rows] == [Answer.YES, Answer.PENDING, Answer.PENDING]
        assert rows[0].comment == "See you"
        assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.event_id == event.id)) == 3
    finally:
        server.close()




@under_gunicorn
def test_concurrent_yes_answers_never_take_the_seats_open_offers_hold(app, make_person, make_event, tmp_path):
    capacity, people = 4, 12
    organiser = create_organiser(db.session, "load@example.com", "Lou Load", "correct horse battery")
    staff(make_person, people + 6)
    event = make_event(organiser=organiser, capacity=capacity, days_ahead=10)
    event.is_auto_backfill = True
    for person in list(db.session.scalars(select(Person).order_by(Person.id)))[:people]:
        event.proposals.append(ProposalEntry(person=person, reason="load test"))
    send_invites(db.session, event, mail_settings())
    db.session.commit()
    tokens = {inv.id: derived_token(SECRET, inv.token_seed) for inv in event.invitations}
    declining = sorted(tokens)[: people - capacity + 2]
    for invitation_id in declining:  # the last two declines open two seats: each is offered at once
        record_answer(db.session, db.session.get(Invitation, invitation_id), "no", utcnow(), settings=mail_settings())
        db.session.commit()
    offered = [inv for inv in answers(event.id) if inv.offer_expires_at is not None]
    assert len(offered) == 2 and all(inv.answer == Answer.PENDING for inv in offered)
    server = serve(app, tmp_path / "served")
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(lambda i: server.answer(tokens[i], "yes"), sorted(tokens)))
        assert all(run == [200, 303] for run in statuses), statuses
        after = answers(event.id)
        assert sum(inv.answer == Answer.YES for inv in after) == capacity - 2, "two seats stay held for the offers"
        assert sum(inv.answer == Answer.WAITLIST for inv in after) == people - (capacity - 2)
        offer_tokens = {inv.id: derived_token(SECRET, inv.token_seed) for inv in offered}
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(lambda i: server.answer(offer_tokens[i], "yes"), sorted(offer_tokens)))
        assert all(run == [200, 303] for run in statuses), statuses
        final = {inv.id: inv.answer for inv in answers(event.id)}
        assert [final[i] for i in sorted(offer_tokens)] == [Answer.YES, Answer.YES], "each offer took the seat it held"
        assert sum(answer == Answer.YES for answer in final.values()) == capacity
    finally:
        server.close()


def test_the_rsvp_page_and_its_answer_cost_a_fixed_number_of_statements(app, client, make_person, make_event):
    event, tokens = invited_event(make_person, make_event, 6, 1)
    first, second, third = (tokens[i] for i in sorted(tokens)[:3])
    for token, stored in ((first, Answer.YES), (second, Answer.WAITLIST), (third, Answer.WAITLIST)):
        with statements() as shown:
            page = client.get(f"/rsvp/{token}")
        assert page.status_code == 200
        # one: the invitation with its event, organiser, person and remembered needs (a lunch asks for them), and whether
        # the event has a published seating plan or questions (it has neither, so neither is read)
        assert len(shown) == 1, shown
        csrf = CSRF.search(page.data.decode()).group(1)
        with statements() as answered:
            response = client.post(f"/rsvp/{token}", data={"csrf_token": csrf, "answer": "yes", "comment": ""})
        assert response.status_code == 303
        # the invitation with its event (less than the page reads), read with the event locked: on PostgreSQL one
        # SELECT ... FOR UPDATE, on SQLite a no-op UPDATE of the event (the write lock) and the read; the seat count; the
        # answer; its audit entry
        assert len(answered) == (4 if db.engine.dialect.name == "postgresql" else 5), answered
        with statements() as waiting:
            page = client.get(f"/rsvp/{token}")
        # a waiting invitee's page also counts who waits ahead
        assert len(waiting) == (2 if stored == Answer.WAITLIST else 1), waiting
    assert [inv.answer for inv in answers(event.id)][:3] == [Answer.YES, Answer.WAITLIST, Answer.WAITLIST]
    assert "(position 2)" in page.data.decode()
    db.session.add(Question(event_id=event.id, label="Which talk?", kind=QuestionKind.TEXT, is_required=False))
    db.session.commit()
    fourth = tokens[sorted(tokens)[3]]
    with statements() as asked:
        page = client.get(f"/rsvp/{fourth}")
    assert "Which talk?" in page.data.decode()
    assert len(asked) == 2, asked  # an event with questions also reads them, with this invitation's answers


def _in_transaction(dbapi_connection) -> bool:
    """Whether the driver's connection is inside a transaction just after a statement (psycopg or sqlite3)."""
    if hasattr(dbapi_connection, "info"):  # psycopg: the server's own transaction status
        return dbapi_connection.info.transaction_status != dbapi_connection.info.transaction_status.IDLE
    return dbapi_connection.in_transaction


def test_the_page_reads_outside_a_transaction_and_the_answer_after_it_locks_inside_one(app, make_person, make_event):
    """The RSVP page runs its reads in autocommit on PostgreSQL (locking.reads_only). The connection it used goes back to
    the pool with its usual isolation when the request ends, so an answer that follows on it (requests one after another
    reuse the one connection) holds its event lock inside a transaction: were autocommit to stay, FOR UPDATE would end at
    once. The requests run in a thread of their own, each with its own app context and session, as under gunicorn."""
    event, tokens = invited_event(make_person, make_event, 3, 1)
    links = [f"/rsvp/{token}" for token in list(tokens.values())[:2]]
    db.session.remove()
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split()[0], _in_transaction(conn.connection.driver_connection)))

    def page_then_answer(link):
        browser = app.test_client()
        page = browser.get(link)
        shown, seen[:] = list(seen), []
        response = browser.post(link, data={"csrf_token": CSRF.search(page.data.decode()).group(1), "answer": "yes"})
        answered, seen[:] = list(seen), []
        return page.status_code, response.status_code, shown, answered

    runs = []
    run_threads_listening([threading.Thread(target=lambda: runs.extend(map(page_then_answer, links)))], record)
    assert len(runs) == len(links), "a request failed in the thread (its traceback is above)"
    for shown_status, answered_status, shown, answered in runs:
        assert (shown_status, answered_status) == (200, 303)
        assert shown and not any(inside for _, inside in shown), shown  # SQLite's reads begin nothing either way
        assert answered and all(inside for _, inside in answered), answered
    assert sorted(inv.answer for inv in db.session.scalars(select(Invitation))) == sorted(
        [Answer.YES, Answer.WAITLIST, Answer.PENDING])
