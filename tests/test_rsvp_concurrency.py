"""Answers under load: the app under gunicorn (several workers) on SQLite (WAL) and PostgreSQL, many invitees at once;
and the fixed SQL cost of the RSVP page and its answer."""

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Answer, Event, Invitation, Person, ProposalEntry
from planner.services.accounts import create_organiser
from planner.services.invites import send_invites
from planner.tokens import derived_token
from tests.helpers import staff, statements
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
SECRET = "test-secret-key"  #: the key tests.helpers.make_app gives the test app, so that tokens match
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

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


class Server:
    """gunicorn started from deploy/gunicorn.conf.py on a free port, stopped in close()."""

    def __init__(self, database_url: str, instance: Path, workers: int = 3):
        self.port = free_port()
        environment = {
            **os.environ,
            "PLANNER_INSTANCE_PATH": str(instance),
            "PLANNER_SQLALCHEMY_DATABASE_URI": database_url,
            "PLANNER_SECRET_KEY": SECRET,
            "PLANNER_MAIL_SEND_AFTER_COMMIT": "false",
            "PLANNER_MAIL_MAILBOX_DIR": str(instance / "mailbox"),
            "PLANNER_BIND": f"127.0.0.1:{self.port}",
            "PLANNER_WORKERS": str(workers),
            "PLANNER_ACCESS_LOG": "/dev/null",
        }
        self.process = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=environment,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(300):  # bounded: 60 s
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode())
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError("gunicorn did not answer /healthz")

    def request(self, method: str, path: str, body: str | None = None, cookie: str | None = None):
        """One request on a fresh connection: (status, headers, body text)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
            if cookie:
                headers["Cookie"] = cookie
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            connection.close()

    def answer(self, token: str, answer: str, times: int = 1) -> list[int]:
        """GET the RSVP page for its CSRF token and session, then POST the answer `times` times; return the statuses."""
        status, headers, page = self.request("GET", f"/rsvp/{token}")
        assert status == 200, page
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        body = f"csrf_token={CSRF.search(page).group(1)}&answer={answer}&comment="
        return [status] + [self.request("POST", f"/rsvp/{token}", body, cookie)[0] for _ in range(times)]

    def close(self) -> None:
        """Stop gunicorn (SIGTERM, then kill)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


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
    server = Server(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "served")
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
    server = Server(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "served")
    try:
        status, headers, page = server.request("GET", f"/rsvp/{token}")
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        body = f"csrf_token={CSRF.search(page).group(1)}&answer=yes&comment=See+you"
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: server.request("POST", f"/rsvp/{token}", body, cookie)[0], range(20)))
        assert statuses == [303] * 20
        rows = answers(event.id)
        assert [inv.answer for inv in rows] == [Answer.YES, Answer.PENDING, Answer.PENDING]
        assert rows[0].comment == "See you"
        assert db.session.scalar(select(func.count(Invitation.id)).where(Invitation.event_id == event.id)) == 3
    finally:
        server.close()




def test_the_rsvp_page_and_its_answer_cost_a_fixed_number_of_statements(app, client, make_person, make_event):
    event, tokens = invited_event(make_person, make_event, 6, 1)
    first, second, third = (tokens[i] for i in sorted(tokens)[:3])
    for token, stored in ((first, Answer.YES), (second, Answer.WAITLIST), (third, Answer.WAITLIST)):
        with statements() as shown:
            page = client.get(f"/rsvp/{token}")
        assert page.status_code == 200
        # the invitation with its event, organiser and person; the published seating plan; the event's questions with
        # this invitation's answers; the person's remembered needs (a lunch asks for them)
        assert len(shown) == 4, shown
        csrf = CSRF.search(page.data.decode()).group(1)
        with statements() as answered:
            response = client.post(f"/rsvp/{token}", data={"csrf_token": csrf, "answer": "yes", "comment": ""})
        assert response.status_code == 303
        # the invitation; the lock (SELECT ... FOR UPDATE or a no-op UPDATE); the event and the invitation afresh;
        # the seat count; the answer; its audit entry; the event's questions
        assert len(answered) == 8, answered
        with statements() as waiting:
            page = client.get(f"/rsvp/{token}")
        # a waiting invitee's page also counts who waits ahead
        assert len(waiting) == (5 if stored == Answer.WAITLIST else 4), waiting
    assert [inv.answer for inv in answers(event.id)][:3] == [Answer.YES, Answer.WAITLIST, Answer.WAITLIST]
    assert "(position 2)" in page.data.decode()
