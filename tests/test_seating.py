"""Seating plans: mixed tables and pairs, moves, publishing to the RSVP page, pairing history and its decay."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from planner import mixing
from planner.extensions import db
from planner.models import (
    Answer,
    EventStatus,
    Invitation,
    PairMeeting,
    SeatingPlan,
    utcnow,
)
from planner.services import seating
from planner.services.events import event_day
from planner.services.seating import SeatingError, SeatingSettings
from planner.tokens import new_token
from tests.helpers import csrf_from

DEPARTMENTS = ["Sales", "Engineering", "People", "Finance"]
FAST = 0.2


@pytest.fixture
def fast(app):
    """Short searches, run right after the request that queued them (as in the demo)."""
    app.config["SEATING_SECONDS"] = FAST
    app.config["SEATING_INLINE"] = True
    return app


def sent_event(make_event, organiser=None, **fields):
    """Return an event whose invitations have gone out."""
    event = make_event(organiser=organiser, **fields)
    event.status = EventStatus.SENT
    event.sent_at = utcnow()
    db.session.commit()
    return event


def invite(event, person, answer=Answer.YES, **fields):
    """Invite a person with an answer; return the RSVP token."""
    token, token_hash = new_token()
    db.session.add(Invitation(event=event, person=person, token_hash=token_hash, answer=answer, **fields))
    db.session.commit()
    return token


def crowd(make_person, event, count, answer=Answer.YES):
    """Create `count` people across departments and levels who answered `answer`; return them."""
    people = [
        make_person(name=f"Guest {event.id}-{i:02}", department=DEPARTMENTS[i % 4], level=i % 5) for i in range(count)
    ]
    for person in people:
        invite(event, person, answer)
    return people


def tables_of(plan):
    """Return {table_index: set of person ids}."""
    groups = {}
    for seat in plan.seats:
        groups.setdefault(seat.table_index, set()).add(seat.person_id)
    return groups


def met(person_a, person_b, event, day):
    a, b = sorted((person_a.id, person_b.id))
    db.session.add(PairMeeting(person_a_id=a, person_b_id=b, event_id=event.id, met_on=day))
    db.session.commit()


def plan_count():
    return db.session.scalar(select(func.count(SeatingPlan.id)))


# --- the service ---------------------------------------------------------------------------------


def test_plan_seats_every_attendee_once_within_the_table_sizes(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    people = crowd(make_person, event, 20)
    plan = seating.make_plan(db.session, event, SeatingSettings(), seed=1, seconds=FAST)
    db.session.commit()
    seated = [seat.person_id for seat in plan.seats]
    assert sorted(seated) == sorted(person.id for person in people)
    sizes = Counter(seat.table_index for seat in plan.seats)
    assert len(sizes) == 3 and all(6 <= size <= 8 for size in sizes.values())


def test_real_table_sizes_are_respected_and_filled_evenly(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    plan = seating.make_plan(db.session, event, SeatingSettings(sizes=(8, 8, 8)), seed=0, seconds=FAST)
    sizes = Counter(seat.table_index for seat in plan.seats)
    assert sorted(sizes.values()) == [4, 4, 4]
    with pytest.raises(SeatingError, match="do not fit"):
        seating.make_plan(db.session, event, SeatingSettings(sizes=(4, 4)), seed=0, seconds=FAST)


def test_pairs_mode_makes_pairs_and_one_group_of_three_when_odd(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 15)
    plan = seating.make_plan(db.session, event, SeatingSettings(mode="pairs"), seed=3, seconds=FAST)
    assert sorted(Counter(seat.table_index for seat in plan.seats).values()) == [2] * 6 + [3]
    crowd(make_person, event, 1)
    plan = seating.make_plan(db.session, event, SeatingSettings(mode="pairs"), seed=3, seconds=FAST)
    assert sorted(Counter(seat.table_index for seat in plan.seats).values()) == [2] * 8


def test_another_seed_gives_another_plan_even_when_solved_exactly(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    for i in range(8):
        invite(event, make_person(name=f"Twin {i}", department="Sales", level=1))
    plans = set()
    for seed in range(5):
        plan = seating.make_plan(db.session, event, SeatingSettings(mode="pairs"), seed=seed, seconds=FAST)
        plans.add(frozenset(frozenset(group) for group in tables_of(plan).values()))
    assert len(plans) > 1


def test_only_people_who_said_yes_are_seated_unless_maybe_is_asked_for(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    yes = crowd(make_person, event, 6)
    maybe = crowd(make_person, event, 2, Answer.MAYBE)
    crowd(make_person, event, 2, Answer.NO)
    crowd(make_person, event, 2, Answer.PENDING)
    dropped = make_person(name="Un Invited")
    invite(event, dropped, Answer.YES, cancelled_at=utcnow())
    plan = seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=FAST)
    assert {seat.person_id for seat in plan.seats} == {person.id for person in yes}
    plan = seating.make_plan(db.session, event, SeatingSettings(min_size=4, include_maybe=True), seed=0, seconds=FAST)
    assert {seat.person_id for seat in plan.seats} == {person.id for person in yes + maybe}


def test_a_new_plan_replaces_the_unpublished_one_and_keeps_the_published(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 14)
    first = seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=FAST)
    second = seating.make_plan(db.session, event, SeatingSettings(), seed=1, seconds=FAST)
    db.session.commit()
    assert plan_count() == 1 and second.seed == 1 and db.session.get(SeatingPlan, first.id) is None
    seating.publish_plan(second, utcnow())
    third = seating.make_plan(db.session, event, SeatingSettings(), seed=2, seconds=FAST)
    db.session.commit()
    assert plan_count() == 2
    assert seating.published_plan(db.session, event).id == second.id
    assert seating.current_plan(db.session, event).id == third.id
    seating.publish_plan(third, utcnow())
    db.session.commit()
    assert plan_count() == 1 and seating.published_plan(db.session, event).id == third.id
    with pytest.raises(SeatingError, match="already published"):
        seating.publish_plan(third, utcnow())


def test_nobody_coming_or_sizes_that_cannot_fit_give_clear_errors(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    with pytest.raises(SeatingError, match="Nobody is coming"):
        seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=FAST)
    crowd(make_person, event, 10)
    with pytest.raises(SeatingError, match="10 people cannot sit at tables of 6 to 8"):
        seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=FAST)
    draft = make_event(capacity=30)
    with pytest.raises(SeatingError, match="invitations have gone out"):
        seating.make_plan(db.session, draft, SeatingSettings(), seed=0, seconds=FAST)


def test_moving_a_person_warns_when_a_table_leaves_its_sizes(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    plan = seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=FAST)
    groups = tables_of(plan)
    mover = min(groups[0])
    warnings = seating.move_person(plan, mover, 1)
    assert mover in tables_of(plan)[1]
    assert warnings == ["Table 1 has 5 people, fewer than the 6 asked for."]
    assert seating.move_person(plan, mover, 0) == []
    crowd(make_person, event, 1)
    plan = seating.make_plan(db.session, event, SeatingSettings(min_size=3, max_size=5, sizes=(6, 6, 6)), seed=0, seconds=FAST)
    groups = tables_of(plan)
    assert sorted(map(len, groups.values())) == [4, 4, 5]
    full = sorted(groups.items(), key=lambda item: len(item[1]))
    seating.move_person(plan, min(full[0][1]), full[2][0])
    assert seating.move_person(plan, min(full[1][1]), full[2][0]) == [f"Table {full[2][0] + 1} has 7 people, more than the 6 it takes."]
    with pytest.raises(SeatingError, match="from 1 to 3"):
        seating.move_person(plan, min(full[0][1]), 3)
    with pytest.raises(SeatingError, match="not seated"):
        seating.move_person(plan, -1, 0)


# --- pairing history -----------------------------------------------------------------------------


def history_case(make_person, make_event, days_ago):
    """Four colleagues alike in all but history, two of whom met `days_ago` before the event: seat them in pairs."""
    event = sent_event(make_event, capacity=10)
    earlier = sent_event(make_event, capacity=10)
    people = [make_person(name=f"Same {i}", department="Sales", level=2) for i in range(4)]
    for person in people:
        invite(event, person)
    met(people[0], people[1], earlier, event_day(event) - timedelta(days=days_ago))
    settings = SeatingSettings(mode="pairs", w_department=1, w_level=1, w_new=1)
    return event, people, settings


def test_pairs_who_met_recently_are_split(app, make_person, make_event):
    event, people, settings = history_case(make_person, make_event, days_ago=20)
    for seed in range(3):
        plan = seating.make_plan(db.session, event, settings, seed=seed, seconds=FAST)
        together = [group for group in tables_of(plan).values() if {people[0].id, people[1].id} <= group]
        assert together == []


def test_history_decays_so_a_pair_that_met_200_days_ago_is_new_again(app, make_person, make_event):
    event, people, _ = history_case(make_person, make_event, days_ago=200)
    ids = [person.id for person in people]
    guests = [mixing.Person(person.id, person.department, person.level) for person in people]
    day = event_day(event)
    weights = mixing.pair_weights(guests, seating.meetings_before(db.session, event, ids), day)
    assert weights[0][1] == pytest.approx(weights[2][3])
    halfway = {frozenset(ids[:2]): day - timedelta(days=91)}
    assert mixing.pair_weights(guests, halfway, day)[0][1] == pytest.approx(weights[2][3] - 0.5)


@pytest.mark.parametrize("days_ago, new_pairs", [(30, 2), (200, 3)])
def test_the_score_counts_a_pair_as_new_again_after_six_months(app, make_person, make_event, days_ago, new_pairs):
    event, people, settings = history_case(make_person, make_event, days_ago=days_ago)
    plan = seating.make_plan(db.session, event, settings, seed=0, seconds=FAST)
    for person, table in zip(people, [0, 0, 0, 1], strict=True):
        seating.move_person(plan, person.id, table)
    summary = seating.plan_summary(plan)
    assert sorted(len(table.people) for table in summary.tables) == [1, 3]
    assert summary.overall.new_pairs == new_pairs


def test_history_counts_only_meetings_up_to_the_event_date_and_not_the_event_itself(app, make_person, make_event):
    event, people, _ = history_case(make_person, make_event, days_ago=10)
    later = sent_event(make_event, capacity=10)
    met(people[2], people[3], later, event_day(event) + timedelta(days=5))
    met(people[0], people[2], event, event_day(event))
    met_on = seating.meetings_before(db.session, event, [person.id for person in people])
    assert set(met_on) == {frozenset((people[0].id, people[1].id))}


def test_record_meetings_is_idempotent_and_follows_the_published_plan(app, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    plan = seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=FAST)
    day = event_day(event)
    with pytest.raises(SeatingError, match="Publish the plan first"):
        seating.record_meetings(db.session, event, plan, day, now=event.starts_at)
    seating.publish_plan(plan, utcnow())
    with pytest.raises(SeatingError, match="once the event has started"):
        seating.record_meetings(db.session, event, plan, day, now=utcnow())
    assert seating.record_meetings(db.session, event, plan, day, now=event.starts_at) == 30
    assert seating.record_meetings(db.session, event, plan, day, now=event.starts_at) == 30
    db.session.commit()
    assert db.session.scalar(select(func.count(PairMeeting.id))) == 30
    groups = tables_of(plan)
    seating.move_person(plan, min(groups[0]), 1)
    seating.record_meetings(db.session, event, plan, day, now=event.starts_at)
    db.session.commit()
    pairs = {(row.person_a_id, row.person_b_id) for row in db.session.scalars(select(PairMeeting))}
    assert len(pairs) == 10 + 21
    assert all(a < b for a, b in pairs)


# --- the pages -----------------------------------------------------------------------------------


def page_token(client, event):
    return csrf_from(client.get(f"/events/{event.id}/seating").data)


def settings_form(token, **changes):
    data = {
        "csrf_token": token,
        "mode": "tables",
        "min_size": "6",
        "max_size": "8",
        "sizes": "",
        "w_department": "1",
        "w_level": "0.5",
        "w_new": "1",
        "seed": "0",
    }
    data.update(changes)
    return data


def test_seating_pages_need_login_and_csrf(client, login, fast, make_person, make_event):
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    response = client.get(f"/events/{event.id}/seating")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    anonymous_token = csrf_from(client.get("/auth/login").data)
    response = client.post(f"/events/{event.id}/seating", data=settings_form(anonymous_token))
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    login(event.organiser)
    assert client.post(f"/events/{event.id}/seating", data=settings_form("")).status_code == 400
    assert plan_count() == 0
    assert client.post(f"/events/{event.id}/seating", data=settings_form(page_token(client, event))).status_code == 303
    plan = seating.current_plan(db.session, event)
    for action in ("publish", "record"):
        assert client.post(f"/events/{event.id}/seating/plans/{plan.id}/{action}").status_code == 400
    move = {"person_id": plan.seats[0].person_id, "table": "2"}
    assert client.post(f"/events/{event.id}/seating/plans/{plan.id}/move", data=move).status_code == 400
    db.session.expire_all()
    assert seating.current_plan(db.session, event).published_at is None


def test_get_changes_nothing(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    assert client.get(f"/events/{event.id}/seating").status_code == 200
    assert plan_count() == 0
    for action in ("publish", "record", "move"):
        assert client.get(f"/events/{event.id}/seating/plans/1/{action}").status_code == 405
    assert plan_count() == 0


def test_the_plan_page_shows_names_departments_levels_and_the_score(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    people = crowd(make_person, event, 14)
    token = page_token(client, event)
    response = client.post(f"/events/{event.id}/seating", data=settings_form(token, seed="4"))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).data.decode()
    for person in people:
        assert person.name in page
    assert all(department in page for department in DEPARTMENTS)
    assert "Intern" in page and "Senior" in page
    assert re.search(r"Mixing: <strong>\d+%</strong> of pairs are from different departments", page)
    assert re.search(r"<strong>\d+</strong> new pairs", page)
    assert page.count('class="card table-card"') == 2
    assert "Seed 4." in page
    event_page = " ".join(client.get(f"/events/{event.id}").data.decode().split())
    assert "2 tables, 14 people seated, not published yet" in event_page


def test_rerun_with_another_seed_keeps_the_settings(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 20)
    client.post(f"/events/{event.id}/seating", data=settings_form(page_token(client, event), sizes="8, 8, 8", w_level="2"))
    page = client.get(f"/events/{event.id}/seating").data.decode()
    assert "Re-run with seed 1" in page
    form = re.search(r'<form method="post" action="/events/%d/seating" class="inline">(.*?)</form>' % event.id, page, re.S).group(1)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
    assert fields["seed"] == "1" and fields["sizes"] == "8, 8, 8" and fields["w_level"] == "2.0"
    assert client.post(f"/events/{event.id}/seating", data=fields).status_code == 303
    plan = seating.current_plan(db.session, event)
    assert plan.seed == 1 and plan_count() == 1
    assert SeatingSettings.from_json(plan.settings) == SeatingSettings(sizes=(8, 8, 8), w_level=2.0)
    assert all(count <= 8 for count in Counter(seat.table_index for seat in plan.seats).values())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"max_size": "4"}, "The largest table cannot be smaller than the smallest."),
        ({"sizes": "8, eight"}, "Give the table sizes as whole numbers"),
        ({"w_new": "-1"}, "Weights go from 0 to 100."),
        ({"w_department": "nan"}, "Give a number."),
        ({"min_size": ""}, "Give the smallest table size."),
        ({"sizes": "4, 4"}, "12 people do not fit at tables of [4, 4]"),
        ({"min_size": "7", "max_size": "7"}, "12 people cannot sit at tables of 7 to 7"),
    ],
)
def test_bad_settings_give_a_clear_message_and_keep_the_input(client, login, fast, make_person, make_event, changes, message):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    response = client.post(f"/events/{event.id}/seating", data=settings_form(page_token(client, event), w_level="0.75", **changes))
    assert response.status_code in (400, 409)
    page = response.data.decode()
    assert message in page
    assert 'value="0.75"' in page
    assert plan_count() == 0


def test_move_a_person_from_the_page(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    client.post(f"/events/{event.id}/seating", data=settings_form(page_token(client, event)))
    plan = seating.current_plan(db.session, event)
    mover = min(tables_of(plan)[0])
    token = page_token(client, event)
    response = client.post(f"/events/{event.id}/seating/plans/{plan.id}/move", data={"csrf_token": token, "person_id": mover, "table": "2"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).data.decode()
    assert "Table 1 has 5 people, fewer than the 6 asked for." in page
    db.session.expire_all()
    assert mover in tables_of(seating.current_plan(db.session, event))[1]
    response = client.post(f"/events/{event.id}/seating/plans/{plan.id}/move", data={"csrf_token": token, "person_id": mover, "table": "9"})
    assert "Choose a table number from 1 to 2." in client.get(response.headers["Location"]).data.decode()


def test_actions_on_a_replaced_plan_say_so_and_change_nothing(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    token = page_token(client, event)
    client.post(f"/events/{event.id}/seating", data=settings_form(token))
    old = seating.current_plan(db.session, event).id
    client.post(f"/events/{event.id}/seating", data=settings_form(token, seed="5"))
    response = client.post(f"/events/{event.id}/seating/plans/{old}/publish", data={"csrf_token": token})
    assert "That plan has been replaced" in client.get(response.headers["Location"]).data.decode()
    assert seating.published_plan(db.session, event) is None


def test_publish_shows_the_table_on_the_rsvp_page_and_nothing_before(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    people = [make_person(name=f"Guest {i:02}", department=DEPARTMENTS[i % 4]) for i in range(11)]
    tokens = {person.id: invite(event, person) for person in people}
    absent_token = invite(event, make_person(name="Nora Nocome"), Answer.NO)
    csrf = page_token(client, event)
    client.post(f"/events/{event.id}/seating", data=settings_form(csrf, mode="pairs"))
    plan = seating.current_plan(db.session, event)
    someone = people[0]
    anonymous = client.application.test_client()
    assert 'id="your-table"' not in anonymous.get(f"/rsvp/{tokens[someone.id]}").data.decode()
    client.post(f"/events/{event.id}/seating/plans/{plan.id}/publish", data={"csrf_token": csrf})
    db.session.expire_all()
    plan = seating.current_plan(db.session, event)
    assert plan.published_at is not None
    mine = next(seat for seat in plan.seats if seat.person_id == someone.id)
    mates = [seat.person for seat in plan.seats if seat.table_index == mine.table_index and seat.person_id != someone.id]
    strangers = [seat.person for seat in plan.seats if seat.table_index != mine.table_index]
    page = anonymous.get(f"/rsvp/{tokens[someone.id]}").data.decode()
    assert f"Your group: {mine.table_index + 1}" in page
    assert all(mate.name in page for mate in mates)
    assert not any(stranger.name in page for stranger in strangers)
    assert 'id="your-table"' not in anonymous.get(f"/rsvp/{absent_token}").data.decode()
    event_page = " ".join(client.get(f"/events/{event.id}").data.decode().split())
    assert "5 groups, 11 people seated, published to attendees." in event_page


def test_record_who_met_from_the_page_once_the_event_started(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    csrf = page_token(client, event)
    client.post(f"/events/{event.id}/seating", data=settings_form(csrf))
    plan = seating.current_plan(db.session, event)
    client.post(f"/events/{event.id}/seating/plans/{plan.id}/publish", data={"csrf_token": csrf})
    assert "record who met" not in client.get(f"/events/{event.id}/seating").data.decode()
    response = client.post(f"/events/{event.id}/seating/plans/{plan.id}/record", data={"csrf_token": csrf})
    assert "Who met can be recorded once the event has started." in client.get(response.headers["Location"]).data.decode()
    event.starts_at -= timedelta(days=8)
    event.ends_at -= timedelta(days=8)
    db.session.commit()
    assert "record who met" in client.get(f"/events/{event.id}/seating").data.decode()
    for _ in range(2):
        response = client.post(f"/events/{event.id}/seating/plans/{plan.id}/record", data={"csrf_token": csrf})
        assert "Recorded 30 pairs who met" in client.get(response.headers["Location"]).data.decode()
    assert db.session.scalar(select(func.count(PairMeeting.id))) == 30


def test_print_css_gives_one_unbroken_card_per_table(client):
    css = client.get("/static/style.css").data.decode()
    block = css[css.index("/* --- Seating plans") :]
    assert "@media print" in block
    assert re.search(r"\.table-card \{[^}]*page-break-inside: avoid", block)
    assert ".seating-settings" in block and ".table-card .move" in block


def test_a_cancelled_event_offers_no_seating_and_refuses_every_seating_action(client, login, fast, make_person, make_event):
    login()
    event = sent_event(make_event, capacity=30)
    crowd(make_person, event, 12)
    token = page_token(client, event)
    client.post(f"/events/{event.id}/seating", data=settings_form(token))
    plan = seating.current_plan(db.session, event)
    event.status = EventStatus.CANCELLED
    event.cancelled_at = utcnow()
    db.session.commit()
    assert 'id="seating"' not in client.get(f"/events/{event.id}").data.decode()
    page = client.get(f"/events/{event.id}/seating")
    text = page.data.decode()
    assert page.status_code == 409 and "This event is cancelled: it has no seating plan." in text
    assert "<form method=\"post\" action=\"/events/" not in text and "Make the plan" not in text
    person = plan.seats[0].person_id
    table_before = plan.seats[0].table_index
    actions = {
        "": settings_form(token, seed="7"),
        f"/plans/{plan.id}/publish": {"csrf_token": token},
        f"/plans/{plan.id}/record": {"csrf_token": token},
        f"/plans/{plan.id}/move": {"csrf_token": token, "person_id": person, "table": str(2 - table_before)},
    }
    for path, data in actions.items():
        response = client.post(f"/events/{event.id}/seating{path}", data=data)
        assert response.status_code in (303, 409), path
        shown = response if response.status_code == 409 else client.get(response.headers["Location"])
        followed = shown.data.decode()
        assert "This event is cancelled: it has no seating plan." in followed, path
    db.session.expire_all()
    assert plan_count() == 1
    plan = seating.current_plan(db.session, event)
    assert plan.published_at is None and plan.seed == 0
    assert next(seat for seat in plan.seats if seat.person_id == person).table_index == table_before
    assert db.session.scalar(select(func.count(PairMeeting.person_a_id))) == 0
