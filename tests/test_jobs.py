"""Background jobs: seating searches run by a worker under a lease, the page that waits for them, RSVP traffic meanwhile."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from planner import jobs
from planner.extensions import db
from planner.models import Answer, EventStatus, Invitation, Job, JobState, SeatingPlan, utcnow
from planner.services import seating
from planner.services.seating import SeatingSettings
from planner.tokens import new_token
from tests.helpers import csrf_from, make_app

ROOT = Path(__file__).resolve().parent.parent
DEPARTMENTS = ["Sales", "Engineering", "People", "Finance"]
LEASE = timedelta(seconds=60)


@pytest.fixture
def worker_app(app):
    """The app as in production: plan searches wait for a worker."""
    app.config["SEATING_INLINE"] = False
    app.config["SEATING_SECONDS"] = 0.2
    return app


def seated_event(make_person, make_event, count=14):
    """A sent event with count people who said yes; return it and their RSVP tokens."""
    event = make_event(capacity=count + 10)
    event.status = EventStatus.SENT
    event.sent_at = utcnow()
    tokens = []
    for i in range(count):
        person = make_person(name=f"Guest {i:02}", department=DEPARTMENTS[i % 4], level=i % 5)
        token, token_hash = new_token()
        db.session.add(Invitation(event=event, person=person, token_hash=token_hash, answer=Answer.YES))
        tokens.append(token)
    db.session.commit()
    return event, tokens


def plan_form(token: str, **changes) -> dict:
    data = {"csrf_token": token, "mode": "tables", "min_size": "6", "max_size": "8", "sizes": "",
            "w_department": "1", "w_level": "0.5", "w_new": "1", "seed": "3"}
    return {**data, **changes}


def page_token(client, event) -> str:
    return csrf_from(client.get(f"/events/{event.id}/seating").data)


def plans() -> int:
    return db.session.scalar(select(func.count(SeatingPlan.id)))


def queue_one(event, seconds=0.2) -> int:
    job = seating.queue_plan(db.session, event, SeatingSettings(), seed=0, seconds=seconds)
    db.session.commit()
    return job.id


def test_the_page_says_working_until_a_worker_has_made_the_plan(client, login, worker_app, make_person, make_event):
    login()
    event, _ = seated_event(make_person, make_event)
    response = client.post(f"/events/{event.id}/seating", data=plan_form(page_token(client, event)))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).data.decode()
    assert "Making the plan with seed 3" in page
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Working on the seating plan" in page and f'<a href="/events/{event.id}/seating">refresh it now</a>' in page
    assert plans() == 0
    assert jobs.run_due(db.session, lease=LEASE) == 1
    page = client.get(f"/events/{event.id}/seating").data.decode()
    assert "http-equiv" not in page and "Working on" not in page
    assert "Seed 3." in page and page.count('class="card table-card"') == 2
    assert jobs.run_due(db.session, lease=LEASE) == 0


def test_a_job_that_cannot_be_made_any_more_says_why_on_the_page(client, login, worker_app, make_person, make_event):
    login()
    event, _ = seated_event(make_person, make_event)
    job_id = queue_one(event)
    db.session.execute(update(Invitation).where(Invitation.event_id == event.id).values(answer=Answer.NO))
    db.session.commit()
    job = jobs.run_one(db.session, lease=LEASE)
    assert job.id == job_id and job.state == JobState.FAILED and job.attempts == 1
    page = client.get(f"/events/{event.id}/seating").data.decode()
    assert "The last plan could not be made: Nobody is coming yet" in page and "http-equiv" not in page
    assert plans() == 0


def test_settings_that_cannot_work_are_refused_at_once_and_queue_nothing(client, login, worker_app, make_person, make_event):
    login()
    event, _ = seated_event(make_person, make_event, count=12)
    response = client.post(f"/events/{event.id}/seating", data=plan_form(page_token(client, event), sizes="4, 4"))
    assert response.status_code == 409 and "12 people do not fit at tables of [4, 4]" in response.data.decode()
    assert db.session.scalar(select(func.count(Job.id))) == 0


def test_inline_runs_the_job_right_after_the_request_and_only_for_the_mailbox_demo(tmp_path, database_url):
    assert make_app(database_url, tmp_path / "a").config["SEATING_INLINE"] is True
    assert make_app(database_url, tmp_path / "b", MAIL_TRANSPORT="smtp").config["SEATING_INLINE"] is False
    assert make_app(database_url, tmp_path / "c", MAIL_TRANSPORT="smtp", SEATING_INLINE=True).config["SEATING_INLINE"] is True


def test_inline_page_shows_the_plan_at_once(client, login, app, make_person, make_event):
    app.config["SEATING_SECONDS"] = 0.2
    assert app.config["SEATING_INLINE"] is True  # the test app uses the mailbox, like the demo
    login()
    event, _ = seated_event(make_person, make_event)
    response = client.post(f"/events/{event.id}/seating", data=plan_form(page_token(client, event)))
    page = client.get(response.headers["Location"]).data.decode()
    assert "Seated 14 people (seed 3)." in page and "Working on" not in page
    assert db.session.scalar(select(Job.state)) == JobState.DONE


def test_a_killed_workers_job_is_taken_again_after_its_lease_and_stored_once(worker_app, make_person, make_event):
    event, _ = seated_event(make_person, make_event)
    job_id = queue_one(event)
    now = utcnow()
    dead = jobs.claim(db.session, now, lease=LEASE, worker="dead-worker")
    assert dead.id == job_id and dead.state == JobState.RUNNING
    assert jobs.run_one(db.session, lease=LEASE, now=now + LEASE / 2) is None  # still leased
    job = jobs.run_one(db.session, lease=LEASE, now=now + LEASE + timedelta(seconds=1))
    assert job.id == job_id and job.state == JobState.DONE and job.attempts == 2
    assert json.loads(job.result)["plan_id"] == seating.current_plan(db.session, event).id
    # the dead worker wakes up late: its outcome is not recorded over the one that counts
    assert jobs._finish(db.session, job_id, "dead-worker", state=JobState.FAILED) is False
    db.session.commit()
    assert db.session.get(Job, job_id).state == JobState.DONE and plans() == 1


def test_a_job_whose_worker_dies_every_time_fails_after_the_last_attempt(worker_app, make_person, make_event):
    event, _ = seated_event(make_person, make_event)
    job_id = queue_one(event)
    now = utcnow()
    for attempt in range(jobs.MAX_ATTEMPTS):
        now += LEASE + timedelta(seconds=1)
        assert jobs.claim(db.session, now, lease=LEASE, worker=f"dies-{attempt}").id == job_id
    assert jobs.run_one(db.session, lease=LEASE, now=now + LEASE + timedelta(seconds=1)) is None
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    assert job.state == JobState.FAILED and job.attempts == jobs.MAX_ATTEMPTS and "3 times" in job.error
    assert plans() == 0


def test_two_workers_never_run_the_same_job(worker_app, make_person, make_event):
    event, _ = seated_event(make_person, make_event)
    first, second = queue_one(event), queue_one(event)
    now = utcnow()
    a = jobs.claim(db.session, now, lease=LEASE, worker="a")
    b = jobs.claim(db.session, now, lease=LEASE, worker="b")
    assert {a.id, b.id} == {first, second}
    assert jobs.claim(db.session, now, lease=LEASE, worker="c") is None


def wait_for(condition, what: str, process: subprocess.Popen, seconds: float = 60) -> None:
    """Poll condition until it holds; fail after `seconds` (a bound against hanging, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the worker exited before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        time.sleep(0.05)


def job_state(job_id: int) -> JobState:
    db.session.rollback()  # a fresh snapshot of what the worker committed
    return db.session.scalar(select(Job.state).where(Job.id == job_id))


def test_rsvp_answers_are_served_while_a_worker_process_runs_a_plan_and_a_killed_worker_is_replaced(
    client, worker_app, make_person, make_event, tmp_path
):
    event, tokens = seated_event(make_person, make_event, count=30)  # more than the exact solver takes: a timed search
    job_id = queue_one(event, seconds=120)
    environment = {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "PLANNER_SECRET_KEY": "worker-test-key",
        "PLANNER_SQLALCHEMY_DATABASE_URI": worker_app.config["SQLALCHEMY_DATABASE_URI"],
        "PLANNER_OUTBOX_LEASE_SECONDS": "600",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "work", "--interval", "0.2"]
    worker = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: job_state(job_id) == JobState.RUNNING, "job running", worker)
        for token, answer in zip(tokens[:6], ["no", "maybe", "yes", "no", "maybe", "no"], strict=True):
            form = csrf_from(client.get(f"/rsvp/{token}").data)
            assert client.post(f"/rsvp/{token}", data={"csrf_token": form, "answer": answer}).status_code == 303
        assert job_state(job_id) == JobState.RUNNING  # the answers did not wait for the search
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
    assert list(db.session.scalars(select(Invitation.answer).where(Invitation.answer != Answer.YES))).count(Answer.NO) == 3
    stored = db.session.get(Job, job_id)
    stored.payload = json.dumps({**json.loads(stored.payload), "seconds": 0.2})  # the retry need not search as long
    db.session.commit()
    assert jobs.run_one(db.session, lease=LEASE, now=utcnow()) is None  # the killed worker's lease still holds it
    job = jobs.run_one(db.session, lease=LEASE, now=utcnow() + timedelta(seconds=601))
    assert job.id == job_id and job.state == JobState.DONE and job.attempts == 2
    plan = seating.current_plan(db.session, event)
    assert len(plan.seats) == 30 - 3 - 2  # who still said yes when the search started again
