"""Attendance: after an event every yes came unless marked a no-show, and the pairs who met are recorded by themselves."""

from datetime import timedelta
from itertools import combinations

import pytest
from sqlalchemy import select

from planner.extensions import db
from planner.models import Answer, EventKind, EventStatus, Invitation, PairMeeting, Seat, SeatingPlan, utcnow
from planner.services.attendance import AttendanceError, events_to_record, record_attendance, set_no_shows
from planner.tokens import new_token
from tests.helpers import csrf_from


def held(make_event, make_person, answers, kind=EventKind.LUNCH):
    """Return an event that took place yesterday, with one invitee per answer."""
    event = make_event(capacity=len(answers))
    event.kind = kind
    event.status = EventStatus.SENT
    event.starts_at, event.ends_at = utcnow() - timedelta(days=1, hours=2), utcnow() - timedelta(days=1, hours=1)
    people = [make_person(department=["Sales", "Legal"][i % 2]) for i in range(len(answers))]
    for person, answer in zip(people, answers):
        db.session.add(Invitation(event=event, person=person, token_hash=new_token()[1], answer=answer))
    db.session.commit()
    return event, people


def pairs_of(event) -> set[tuple[int, int]]:
    rows = db.session.scalars(select(PairMeeting).where(PairMeeting.event_id == event.id))
    return {(row.person_a_id, row.person_b_id) for row in rows}


def expected(people) -> set[tuple[int, int]]:
    return {tuple(sorted((a.id, b.id))) for a, b in combinations(people, 2)}


def test_a_lunch_records_every_pair_of_the_people_who_said_yes(app, make_event, make_person):
    event, people = held(make_event, make_person, [Answer.YES] * 4 + [Answer.NO, Answer.MAYBE])
    assert events_to_record(db.session, utcnow()) == [event.id]
    assert record_attendance(db.session, event, utcnow()) == 6
    db.session.commit()
    assert pairs_of(event) == expected(people[:4])
    assert events_to_record(db.session, utcnow()) == []


def test_a_no_show_is_left_out_and_the_pairs_follow(app, make_event, make_person):
    event, people = held(make_event, make_person, [Answer.YES] * 4)
    record_attendance(db.session, event, utcnow())
    assert set_no_shows(db.session, event, {people[0].id}, utcnow()) == 1
    db.session.commit()
    assert pairs_of(event) == expected(people[1:])
    set_no_shows(db.session, event, set(), utcnow())
    assert pairs_of(event) == expected(people)


def test_drinks_without_a_plan_record_no_pairs_and_with_one_its_tables(app, make_event, make_person):
    event, people = held(make_event, make_person, [Answer.YES] * 4, kind=EventKind.DRINKS)
    assert record_attendance(db.session, event, utcnow()) == 0
    plan = SeatingPlan(event_id=event.id, published_at=utcnow())
    plan.seats = [Seat(person_id=person.id, table_index=index // 2) for index, person in enumerate(people)]
    db.session.add(plan)
    assert record_attendance(db.session, event, utcnow()) == 2
    assert pairs_of(event) == expected(people[:2]) | expected(people[2:])


def test_nothing_is_recorded_before_the_event_is_over(app, make_event, make_person):
    event, _ = held(make_event, make_person, [Answer.YES] * 2)
    event.ends_at = utcnow() + timedelta(hours=1)
    with pytest.raises(AttendanceError, match="over"):
        record_attendance(db.session, event, utcnow())
    assert event.id not in events_to_record(db.session, utcnow())


def test_series_run_records_attendance_once(app, make_event, make_person):
    event, _ = held(make_event, make_person, [Answer.YES] * 3)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["series", "run"])
    assert "3 pairs met" in first.output and "attendance recorded for 1 event." in first.output
    second = runner.invoke(args=["series", "run"])
    assert "attendance recorded for 0 events." in second.output


def test_the_organiser_marks_a_no_show_on_the_attendance_page(client, login, make_event, make_person):
    login()
    event, people = held(make_event, make_person, [Answer.YES] * 3)
    record_attendance(db.session, event, utcnow())
    db.session.commit()
    page = client.get(f"/events/{event.id}/attendance")
    assert page.status_code == 200 and people[0].name.encode() in page.data
    response = client.post(f"/events/{event.id}/attendance", data={"csrf_token": csrf_from(page.data), "no_show": [str(people[0].id)]},
                           follow_redirects=True)
    assert b"1 no-show saved" in response.data
    assert pairs_of(event) == expected(people[1:])
    refused = client.post(f"/events/{event.id}/attendance", data={"no_show": [str(people[1].id)]})
    assert refused.status_code == 400 and pairs_of(event) == expected(people[1:])
