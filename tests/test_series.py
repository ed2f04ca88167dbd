"""Series: creating one, `series run` (idempotent, also as racing processes), skip, move, edit from a date, end."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Answer, Event, EventKind, EventStatus, Invitation, OutgoingMail, SendMode, Series, SeriesStatus
from planner.recurrence import Pattern
from planner.services import series as series_service
from planner.services.series import SeriesDraft, SeriesError
from tests.helpers import csrf_from

ROOT = Path(__file__).resolve().parents[1]
#: a Monday well in the future, so that every test can replay moments around it
START = date(2031, 3, 3)


def draft(**changes) -> SeriesDraft:
    values = dict(
        kind=EventKind.LUNCH, title="Monthly lunch", description="Meet colleagues", location="Canteen", capacity=4,
        start=time(12, 0), end=time(13, 0), timezone="Europe/Berlin",
        pattern=Pattern("monthly_weekday", weekday=1, nth=1), starts_on=START, deadline_hours=48, plan_days_ahead=14,
    )
    values.update(changes)
    return SeriesDraft(**values)


def at(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def staff(make_person):
    departments = ["Engineering", "Sales", "Legal", "Finance"]
    return [make_person(department=departments[i % 4], level=i % 3) for i in range(16)]


@pytest.fixture
def monthly(app, make_organiser, staff):
    organiser = make_organiser(email="series-owner@example.com")
    series = series_service.create_series(db.session, organiser.id, draft(), at(START - timedelta(days=30)))
    db.session.commit()
    return series


def run(app, now: datetime):
    result = app.test_cli_runner().invoke(args=["series", "run", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def rounds(series: Series) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.series_id == series.id).order_by(Event.starts_at)))


def test_a_round_is_created_and_proposed_when_its_planning_day_comes(app, monthly):
    assert "0 rounds created" in run(app, at(START - timedelta(days=30)))
    assert rounds(monthly) == []
    output = run(app, at(date(2031, 3, 4) - timedelta(days=13)))
    assert "round on 2031-03-04 created, waiting for review" in output
    (first,) = rounds(monthly)
    assert first.status == EventStatus.DRAFT and first.occurrence_on == date(2031, 3, 4)
    assert first.starts_at == datetime(2031, 3, 4, 11, 0, tzinfo=UTC)  # 12:00 in Berlin (winter time)
    assert first.rsvp_deadline_at == first.starts_at - timedelta(hours=48)
    assert len(first.proposals) == 4 and first.title == "Monthly lunch"


def test_running_twice_creates_each_round_once(app, monthly):
    now = at(date(2031, 3, 1))
    run(app, now)
    assert "0 rounds created" in run(app, now)
    assert len(rounds(monthly)) == 1


def test_a_round_after_the_clocks_change_keeps_its_local_time(app, monthly):
    run(app, at(date(2031, 3, 25)))
    (april,) = [event for event in rounds(monthly) if event.occurrence_on == date(2031, 4, 1)]
    assert april.starts_at == datetime(2031, 4, 1, 10, 0, tzinfo=UTC)  # 12:00 in Berlin (summer time)


def test_an_automatic_series_sends_its_round_by_itself(smtp_app, smtp_server, make_organiser, staff):
    organiser = make_organiser(email="auto@example.com")
    series = series_service.create_series(db.session, organiser.id, draft(send_mode=SendMode.AUTOMATIC), at(date(2031, 1, 1)))
    db.session.commit()
    output = run(smtp_app, at(date(2031, 3, 1)))
    assert "created, sent" in output
    (first,) = rounds(series)
    assert first.status == EventStatus.SENT and len(first.invitations) == 4
    assert len(smtp_server.messages) == 4


def test_the_series_ends_after_its_count(app, make_organiser, staff):
    organiser = make_organiser(email="count@example.com")
    pattern = Pattern("weekly", weekday=0, count=2)
    series = series_service.create_series(db.session, organiser.id, draft(pattern=pattern), at(date(2031, 1, 1)))
    db.session.commit()
    for week in range(5):
        run(app, at(START + timedelta(days=7 * week)))
    assert [event.occurrence_on for event in rounds(series)] == [START, START + timedelta(days=7)]


def test_skipping_a_date_removes_its_draft_and_no_round_comes_back(app, monthly):
    run(app, at(date(2031, 3, 1)))
    sent = series_service.skip_day(db.session, monthly, date(2031, 3, 4))
    db.session.commit()
    assert sent is None and rounds(monthly) == []
    run(app, at(date(2031, 3, 2)))
    assert rounds(monthly) == []
    with pytest.raises(SeriesError, match="not a date"):
        series_service.skip_day(db.session, monthly, date(2031, 3, 5))


def test_moving_a_date_keeps_its_place_in_the_series(app, monthly):
    moved = series_service.move_day(db.session, monthly, date(2031, 5, 6), date(2031, 5, 8), at(date(2031, 3, 1)), "planner.test")
    db.session.commit()
    assert moved.occurrence_on == date(2031, 5, 6) and moved.starts_at == datetime(2031, 5, 8, 10, 0, tzinfo=UTC)
    run(app, at(date(2031, 4, 28)))
    assert [event.occurrence_on for event in rounds(monthly)].count(date(2031, 5, 6)) == 1


def test_editing_from_a_date_changes_only_the_rounds_from_then_on(app, monthly):
    run(app, at(date(2031, 3, 1)))
    successor = series_service.edit_from(
        db.session, monthly, draft(title="Lunch and learn", capacity=6), date(2031, 4, 1), at(date(2031, 3, 1)))
    db.session.commit()
    assert monthly.status == SeriesStatus.ENDED and successor.previous_id == monthly.id
    run(app, at(date(2031, 3, 25)))
    (march,) = rounds(monthly)
    (april,) = rounds(successor)
    assert (march.title, march.capacity) == ("Monthly lunch", 4)
    assert (april.title, april.capacity, april.occurrence_on) == ("Lunch and learn", 6, date(2031, 4, 1))
    assert series_service.lineage(successor) == [successor, monthly]


def test_a_change_without_a_date_applies_from_today_in_the_series_timezone(app, monthly):
    late = datetime(2031, 3, 9, 23, 30, tzinfo=UTC)  # the server's 9 March is already 10 March in Berlin
    with pytest.raises(SeriesError, match="from today or a later date"):
        series_service.edit_from(db.session, monthly, draft(title="Lunch and learn"), late.date(), late)
    db.session.rollback()
    successor = series_service.edit_from(db.session, monthly, draft(title="Lunch and learn"), None, late)
    assert successor.starts_on == date(2031, 3, 10) and monthly.rrule.endswith("UNTIL=20310309T235959")


def test_a_series_cannot_start_on_a_day_already_past_in_its_timezone(app, make_organiser):
    organiser = make_organiser()
    late = datetime(2031, 3, 9, 23, 30, tzinfo=UTC)
    with pytest.raises(SeriesError, match="cannot start in the past"):
        series_service.create_series(db.session, organiser.id, draft(starts_on=date(2031, 3, 9)), late)
    early = datetime(2031, 3, 10, 3, 0, tzinfo=UTC)  # still 9 March in New York
    series = series_service.create_series(db.session, organiser.id, draft(starts_on=date(2031, 3, 9), timezone="America/New_York"), early)
    assert series.starts_on == date(2031, 3, 9)


def test_ending_a_series_removes_drafts_and_returns_sent_rounds_to_cancel(app, monthly):
    run(app, at(date(2031, 3, 30)))
    (april,) = rounds(monthly)
    april.status = EventStatus.SENT
    db.session.commit()
    to_cancel = series_service.end_series(db.session, monthly, at(date(2031, 3, 30)))
    db.session.commit()
    assert to_cancel == [april]
    assert "0 rounds created" in run(app, at(date(2031, 4, 25)))
    with pytest.raises(SeriesError, match="already ended"):
        series_service.end_series(db.session, monthly, at(date(2031, 3, 30)))


@pytest.mark.parametrize("changes, message", [
    ({"title": "  "}, "needs a title"),
    ({"end": time(11, 0)}, "end after it starts"),
    ({"plan_days_ahead": 0}, "planned from 1 to 90"),
    ({"deadline_hours": 1000}, "0 to 720"),
    ({"starts_on": date(2020, 1, 1)}, "past"),
    ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
])
def test_bad_series_are_refused_with_a_reason(app, make_organiser, changes, message):
    organiser = make_organiser()
    with pytest.raises(Exception, match=message):
        series_service.create_series(db.session, organiser.id, draft(**changes), at(date(2031, 1, 1)))


def form_data(page: bytes, **changes) -> dict:
    data = {
        "csrf_token": csrf_from(page), "kind": "lunch", "title": "Monthly lunch", "description": "", "location": "Canteen",
        "start": "12:00", "end": "13:00", "timezone": "Europe/Berlin", "capacity": "4", "frequency": "monthly_weekday",
        "interval": "1", "weekday": "1", "nth": "1", "month_day": "1", "starts_on": (date.today() + timedelta(days=3)).isoformat(),
        "ends": "never", "until": "", "count": "", "deadline_hours": "48", "plan_days_ahead": "14",
        "send_mode": "review", "planning_mode": "fair",
    }
    data.update(changes)
    return data


def test_an_organiser_creates_a_series_and_plans_its_first_round(client, login, staff):
    login()
    page = client.get("/series/new")
    assert page.status_code == 200
    response = client.post("/series/new", data=form_data(page.data))
    assert response.status_code == 302
    series = db.session.scalar(select(Series))
    shown = client.get(f"/series/{series.id}")
    assert b"Every month on the first Tuesday" in shown.data and b"Coming dates" in shown.data
    planned = client.post(f"/series/{series.id}/plan", data={"csrf_token": csrf_from(shown.data)}, follow_redirects=True)
    assert b"Planned 1 round" in planned.data or b"No round is due yet" in planned.data
    assert b"16 people who can be invited" in planned.data


def test_a_series_form_with_a_line_break_in_the_title_is_refused(client, login):
    login()
    page = client.get("/series/new")
    response = client.post("/series/new", data=form_data(page.data, title="Lunch\r\nBcc: x@evil.example"))
    assert response.status_code == 400 and b"line break" in response.data
    assert db.session.scalar(select(func.count(Series.id))) == 0


def test_the_series_page_counts_turns(client, login, monthly, staff):
    login(monthly.organiser)
    run(client.application, at(date(2031, 3, 1)))
    (first,) = rounds(monthly)
    for entry in first.proposals[:2]:
        db.session.add(Invitation(event_id=first.id, person_id=entry.person_id, token_hash=f"h{entry.person_id}",
                                  answer=Answer.YES))
    first.status = EventStatus.SENT
    db.session.commit()
    page = client.get(f"/series/{monthly.id}")
    assert b"2 of 16 people who can be invited have had a turn" in page.data
    assert b"Due next (14)" in page.data and b"Never invited to anything (14)" in page.data
    assert b"Had a turn (2)" in page.data and first.proposals[0].person.name.encode() in page.data.split(b"Had a turn")[1]


def test_two_series_runs_at_once_create_each_round_once(app, monthly, tmp_path):
    environment = {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "runner-instance"),
        "PLANNER_SECRET_KEY": "runner-test-key",
        "PLANNER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "series", "run", "--now", at(date(2031, 3, 25)).isoformat()]
    runners = [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [runner.communicate(timeout=120) for runner in runners]
    assert all(runner.returncode == 0 for runner in runners), outputs
    db.session.expire_all()
    assert [event.occurrence_on for event in rounds(monthly)] == [date(2031, 4, 1)]
    assert sum(output.count("created, waiting") for output, _ in outputs) == 1
    assert db.session.scalar(select(func.count(OutgoingMail.id))) == 0


def test_rounds_planned_together_propose_different_people(app, make_organiser, make_person):
    for number in range(12):
        make_person(department=["Sales", "Legal", "Finance"][number % 3], level=number % 2)
    organiser = make_organiser(email="together@example.com")
    series = series_service.create_series(db.session, organiser.id, draft(plan_days_ahead=45), at(date(2031, 1, 1)))
    db.session.commit()
    run(app, at(date(2031, 2, 20)))
    first, second = rounds(series)
    chosen = [{entry.person_id for entry in event.proposals} for event in (first, second)]
    assert len(chosen[0]) == len(chosen[1]) == 4 and chosen[0].isdisjoint(chosen[1])
