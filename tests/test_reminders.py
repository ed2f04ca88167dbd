"""Reminders: to the unanswered before the deadline, to a yes the day before; each once, also across racing or killed runs."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import Event, Invitation, OutgoingMail, Reminder, ReminderKind, Series, utcnow
from planner.services.events import local
from planner.services.reminders import event_reminders, unanswered_moment
from planner.services.rsvp import record_answer
from planner.services.seating import SeatingSettings, make_plan, publish_plan
from planner.services.series import create_round
from tests.helpers import csrf_from, rsvp_link, sent_event

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")


def at(event: Event, days: int, hour: int) -> datetime:
    """A moment on the event's wall clock, `days` after the day it was made on (it is on that day + 7, answers by + 6 00:00).

    Counted from the event's own date, not read from the clock again: a test that runs past midnight keeps its moments."""
    made_on = local(event.starts_at, event).date() - timedelta(days=7)
    return datetime.combine(made_on + timedelta(days=days), clock(hour), tzinfo=BERLIN)


def send(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["reminders", "send", *args])
    db.session.expire_all()
    assert result.exit_code == 0, result.output
    return result.output


def reminders_in(smtp_server, kind: str) -> dict:
    """The reminders of one kind the SMTP server got, by recipient."""
    found = {}
    for received in smtp_server.messages:
        message = received.message
        if message["X-Planner-Kind"] == f"reminder_{kind}":
            assert message["To"].addresses[0].addr_spec not in found, "a second reminder of the same kind"
            found[message["To"].addresses[0].addr_spec] = message
    return found


def answer(invitation: Invitation, word: str) -> None:
    record_answer(db.session, invitation, word, utcnow(), settings=mail_settings())
    db.session.commit()


@pytest.fixture
def invited(smtp_app, smtp_server, make_person, make_event):
    """Six people invited to a lunch on today + 7 (six seats); returns the event and each person's RSVP link."""
    _client, event, _link = sent_event(smtp_app, smtp_server, make_person, make_event, 6)
    links = {received.message["To"].addresses[0].addr_spec: rsvp_link(received.message) for received in smtp_server.messages}
    smtp_server.clear()
    return event, links


def test_the_unanswered_are_reminded_reminder_days_before_the_deadline_once(smtp_app, smtp_server, invited):
    event, links = invited
    assert "0 reminders" in send(smtp_app, "--now", at(event, 3, 23).isoformat())
    assert smtp_server.messages == []
    assert "6 reminders" in send(smtp_app, "--now", at(event, 4, 1).isoformat())
    found = reminders_in(smtp_server, "unanswered")
    assert set(found) == set(links)
    for address, message in found.items():
        assert message["Subject"].startswith("Reminder: please answer — Team lunch on")
        assert rsvp_link(message) == links[address], "the same RSVP link as the invitation"
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
        assert "Answers close on" in message.get_body(preferencelist=("plain",)).get_content()
        assert links[address] in message.get_body(preferencelist=("html",)).get_content()
    assert "0 reminders" in send(smtp_app, "--now", at(event, 5, 1).isoformat())
    assert len(smtp_server.messages) == 6
    kinds = db.session.execute(select(Reminder.kind, func.count(Reminder.id)).group_by(Reminder.kind)).all()
    assert kinds == [(ReminderKind.UNANSWERED, 6)]


@pytest.mark.parametrize(("deadline", "expected_utc"), [
    (datetime(2027, 3, 29, 0, 0), datetime(2027, 3, 26, 23, 0, tzinfo=UTC)),  # clocks go forward on 28 March 2027
    (datetime(2026, 10, 26, 0, 0), datetime(2026, 10, 23, 22, 0, tzinfo=UTC)),  # and back on 25 October 2026
])
def test_the_unanswered_reminder_keeps_its_wall_clock_time_across_a_daylight_saving_change(deadline, expected_utc):
    stored = deadline.replace(tzinfo=BERLIN).astimezone(UTC)  # as the database gives it back
    event = Event(timezone="Europe/Berlin", reminder_days=2, rsvp_deadline_at=stored)
    moment = unanswered_moment(event)
    assert moment == expected_utc and (moment.astimezone(BERLIN).date(), moment.astimezone(BERLIN).hour) == (
        deadline.date() - timedelta(days=2), 0)


def test_nobody_withdrawn_bounced_opted_out_or_answered_is_reminded(smtp_app, smtp_server, invited):
    event, links = invited
    withdrawn, bounced, opted_out, said_no, said_maybe, waiting = event.invitations
    withdrawn.cancelled_at = utcnow()
    bounced.bounced_at = utcnow()
    opted_out.person.is_opted_out = True
    db.session.commit()
    answer(said_no, "no")
    answer(said_maybe, "maybe")
    send(smtp_app, "--now", at(event, 4, 1).isoformat())
    assert set(reminders_in(smtp_server, "unanswered")) == {waiting.person.email}


def test_no_reminder_when_the_deadline_was_too_close_or_none_is_wanted(smtp_app, smtp_server, invited):
    event, _links = invited
    event.reminder_days = 10  # the reminder moment was long past when the invitations went out
    db.session.commit()
    assert "0 reminders" in send(smtp_app, "--now", at(event, 5, 23).isoformat())
    event.reminder_days = 0
    db.session.commit()
    assert "0 reminders" in send(smtp_app, "--now", at(event, 5, 23).isoformat())
    event.reminder_days = 1
    db.session.commit()
    assert "0 reminders" in send(smtp_app, "--now", at(event, 6, 1).isoformat()), "none after the deadline"
    assert smtp_server.messages == []


def test_a_yes_is_reminded_the_day_before_with_time_place_and_table(smtp_app, smtp_server, invited):
    event, links = invited
    coming = event.invitations[:4]
    for invitation in coming:
        answer(invitation, "yes")
    answer(event.invitations[4], "no")
    plan = make_plan(db.session, event, SeatingSettings(min_size=2, max_size=2), seed=1, seconds=0.2)
    publish_plan(plan, utcnow())
    db.session.commit()
    smtp_server.clear()
    assert "0 reminders" in send(smtp_app, "--now", at(event, 6, 8).isoformat())
    send(smtp_app, "--now", at(event, 6, 10).isoformat())
    found = reminders_in(smtp_server, "day_before")
    assert set(found) == {invitation.person.email for invitation in coming}
    table_of = {seat.person.email: seat.table_index + 1 for seat in plan.seats}
    for address, message in found.items():
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert message["Subject"].startswith("Tomorrow: Team lunch on")
        assert "12:00 to 13:00 (Europe/Berlin)" in text and "Canteen, 2nd floor" in text
        assert f"Your table: {table_of[address]}, with " in text
        assert rsvp_link(message) == links[address]
        assert f"Your table</strong></td><td>{table_of[address]}" in message.get_body(preferencelist=("html",)).get_content()
    assert "0 reminders" in send(smtp_app, "--now", at(event, 6, 11).isoformat())
    assert "0 reminders" in send(smtp_app, "--now", at(event, 7, 13).isoformat()), "none once the event has begun"


def test_the_day_before_reminder_without_a_published_plan_names_no_table(smtp_app, smtp_server, invited):
    event, _links = invited
    answer(event.invitations[0], "yes")
    smtp_server.clear()
    send(smtp_app, "--now", at(event, 6, 10).isoformat())
    (message,) = reminders_in(smtp_server, "day_before").values()
    assert "Your table" not in message.get_body(preferencelist=("plain",)).get_content()


@contextmanager
def statements():
    seen = []

    def count(*_args):
        seen.append(1)

    db.session.expire_all()
    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)


def test_the_event_page_shows_who_got_which_reminder_in_one_query(smtp_app, smtp_server, invited):
    event, _links = invited
    event_id = event.id
    answer(event.invitations[0], "yes")
    send(smtp_app, "--now", at(event, 4, 1).isoformat())
    with statements() as few:
        assert len(event_reminders(db.session, event_id)) == 5
    send(smtp_app, "--now", at(event, 6, 10).isoformat())
    with statements() as more:
        assert len(event_reminders(db.session, event_id)) == 6
    assert len(few) == len(more) == 1


def test_series_rounds_inherit_the_reminder_days(app, make_organiser):
    organiser = make_organiser()
    series = Series(kind="lunch", title="Monthly lunch", start_time=clock(12), end_time=clock(13), timezone="Europe/Berlin",
                    capacity=6, rrule="FREQ=MONTHLY", starts_on=date.today(), organiser_id=organiser.id, reminder_days=5)
    db.session.add(series)
    db.session.commit()
    event = create_round(db.session, series, date.today() + timedelta(days=20), utcnow(), "planner.test")
    assert event.reminder_days == 5


def runner_environment(app, smtp_server, tmp_path) -> dict:
    return {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "runner-instance"),
        "PLANNER_SECRET_KEY": app.config["SECRET_KEY"],
        "PLANNER_BASE_URL": app.config["BASE_URL"],
        "PLANNER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PLANNER_MAIL_TRANSPORT": "smtp",
        "PLANNER_SMTP_HOST": smtp_server.host,
        "PLANNER_SMTP_PORT": str(smtp_server.port),
        "PLANNER_MAIL_SEND_AFTER_COMMIT": "true",  # the command delivers after each batch, as the test watches for
    }


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "send", *args]


def reminder_rows() -> list[tuple[int, str]]:
    db.session.rollback()
    return db.session.execute(select(Reminder.invitation_id, Reminder.kind).order_by(Reminder.invitation_id)).all()


def reminder_mails() -> list[int]:
    query = select(OutgoingMail.invitation_id).where(OutgoingMail.subject.startswith("Reminder:"))
    return list(db.session.scalars(query.order_by(OutgoingMail.invitation_id)))


def test_two_runs_at_once_send_each_reminder_once(smtp_app, smtp_server, invited, tmp_path):
    event, links = invited
    environment = runner_environment(smtp_app, smtp_server, tmp_path)
    moment = at(event, 4, 1).isoformat()
    runners = [subprocess.Popen(command("--now", moment, "--batch", "2"), cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [runner.communicate(timeout=120) for runner in runners]
    assert all(runner.returncode == 0 for runner in runners), outputs
    ids = sorted(invitation.id for invitation in event.invitations)
    assert [invitation_id for invitation_id, _kind in reminder_rows()] == ids
    assert reminder_mails() == ids
    assert sorted(reminders_in(smtp_server, "unanswered")) == sorted(links)


def wait_for(condition, what: str, process: subprocess.Popen, seconds: float = 60) -> None:
    """Poll condition until it holds; fail after `seconds` (a bound against hanging, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run exited before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        time.sleep(0.05)


def test_a_run_killed_halfway_loses_and_duplicates_nothing(smtp_app, smtp_server, invited, tmp_path):
    event, links = invited
    environment = runner_environment(smtp_app, smtp_server, tmp_path)
    moment = at(event, 4, 1).isoformat()
    smtp_server.hold_after(1)
    killed = subprocess.Popen(command("--now", moment, "--batch", "1"), cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: smtp_server.held, "the second batch's mail held", killed)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
        smtp_server.release()
    before = reminder_rows()
    assert len(before) == 2, "killed while delivering the second batch: two committed, four left"
    assert reminder_mails() == [invitation_id for invitation_id, _kind in before], "each committed Reminder has its mail"
    send(smtp_app, "--now", moment)
    ids = sorted(invitation.id for invitation in event.invitations)
    assert [invitation_id for invitation_id, _kind in reminder_rows()] == ids
    assert reminder_mails() == ids
    delivered = reminders_in(smtp_server, "unanswered")
    assert len(delivered) >= len(ids) - 1, "all but the one claimed by the killed run went out (it waits one lease)"
    assert set(delivered) <= set(links)


def test_organiser_sees_reminders_on_the_event_page(smtp_app, smtp_server, make_person, make_event):
    client, event, _link = sent_event(smtp_app, smtp_server, make_person, make_event, 3)
    assert b'id="reminders"' not in client.get(f"/events/{event.id}").data
    send(smtp_app, "--now", at(event, 4, 1).isoformat())
    page = client.get(f"/events/{event.id}").data.decode()
    assert 'id="reminders"' in page
    section = page.split('id="reminders"')[1].split("</section>")[0]
    assert section.count("please answer") == 3
    assert all(invitation.person.name in section for invitation in event.invitations)
    assert smtp_app.test_client().get(f"/events/{event.id}").status_code == 302, "organisers only"


def test_the_periodic_unit_runs_the_reminders_after_the_series(app):
    unit = (ROOT / "deploy/systemd/planner-periodic.service").read_text()
    starts = [line.split("flask --app wsgi ")[1] for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert starts[:2] == ["series run", "reminders send"]
    result = app.test_cli_runner().invoke(args=["reminders", "send", "--help"])
    assert result.exit_code == 0 and "--now" in result.output and "--batch" in result.output


def test_the_organiser_sets_the_reminder_days_on_the_event_form(client, login):
    login()
    page = client.get("/events/new?kind=lunch")
    assert b'name="reminder_days"' in page.data
    data = {
        "csrf_token": csrf_from(page.data), "kind": "lunch", "title": "Reminded lunch", "description": "", "location": "",
        "day": (date.today() + timedelta(days=10)).isoformat(), "start": "12:00", "end": "13:00",
        "timezone": "Europe/Berlin", "capacity": "8", "rsvp_deadline": "", "reminder_days": "5",
    }
    assert client.post("/events/new", data=data).status_code == 302
    assert db.session.scalar(select(Event.reminder_days).where(Event.title == "Reminded lunch")) == 5
    refused = client.post("/events/new", data={**data, "title": "Too early", "reminder_days": "99"})
    assert refused.status_code == 400 and b"from 0 (never) to 30 days" in refused.data
