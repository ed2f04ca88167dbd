"""The proposal: eligibility, look-back, reasons, exclusions, must, replace, the balance pictures, and opting out."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from planner import balance
from planner.charts import bar_chart, grid_chart
from planner.errors import PlannerError
from planner.extensions import db
from planner.models import (
    Event,
    EventExclusion,
    EventStatus,
    Invitation,
    OutgoingMail,
    Person,
    PlanningMode,
    ProposalEntry,
)
from planner.services import planning
from planner.services.events import event_day
from planner.services.planning import History, PlanningError
from planner.tokens import new_token
from tests.helpers import csrf_from, reference_pool

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def invite(person, event, when):
    """Record that a person was invited at `when` (an aware datetime)."""
    _, token_hash = new_token()
    invitation = Invitation(event=event, person=person, token_hash=token_hash, created_at=when)
    db.session.add(invitation)
    db.session.commit()
    return invitation


def grid_people(make_person, departments=("Sales", "Engineering"), levels=(0, 1), per_cell=2):
    return [
        make_person(department=d, level=l, name=f"{d} {l} #{i}")
        for d in departments
        for l in levels
        for i in range(per_cell)
    ]


def proposed(event):
    db.session.expire_all()
    return [entry.person for entry in db.session.get(Event, event.id).proposals]


def measure(event):
    return planning.proposal_balance(db.session, db.session.get(Event, event.id))


def flashes(client, event):
    page = client.get(f"/events/{event.id}").data.decode()
    return page, re.findall(r'<p class="flash (\w+)" role="status">([^<]*)</p>', page)


# --- reasons and the look-back window -------------------------------------------------------


def test_reasons_say_why_someone_is_in():
    today = date(2026, 3, 2)
    assert planning.reason(None, today) == "never invited"
    assert planning.reason(History(0, None), today) == "never invited"
    assert planning.reason(History(1, today - timedelta(days=125)), today) == "last invited 4 months ago"
    assert planning.reason(History(1, today - timedelta(days=21)), today) == "last invited 3 weeks ago"
    assert planning.reason(History(1, today - timedelta(days=1)), today) == "last invited 1 day ago"
    assert planning.reason(History(1, today - timedelta(days=800)), today) == "last invited 2 years ago"
    assert planning.reason(History(3, today), today, is_must=True) == "must"


def test_lookback_window_counts_only_invitations_inside_it_and_not_cancelled_ones(app, make_person, make_event):
    old_event = make_event(title="Earlier lunch")
    anna, ben, cleo = (make_person(name=name) for name in ("Anna", "Ben", "Cleo"))
    invite(anna, old_event, NOW - timedelta(days=200))
    invite(ben, old_event, NOW - timedelta(days=100))
    cancelled = invite(cleo, old_event, NOW - timedelta(days=10))
    cancelled.cancelled_at = NOW - timedelta(days=9)
    db.session.commit()

    history = planning.invitation_history(db.session, NOW, 180)
    assert history[anna.id] == History(0, (NOW - timedelta(days=200)).date())
    assert history[ben.id] == History(1, (NOW - timedelta(days=100)).date())
    assert cleo.id not in history
    assert planning.invitation_history(db.session, NOW, 365)[anna.id].recent_invites == 1
    with pytest.raises(PlanningError):
        planning.invitation_history(db.session, NOW, 0)


def test_the_lookback_form_field_changes_who_is_most_due(client, login, make_person, make_event):
    organiser = login()
    earlier, earliest = (make_event(organiser=organiser, title=title) for title in ("Earlier lunch", "Earliest lunch"))
    twice_long_ago = make_person(name="Twice Long Ago")
    once_recently = make_person(name="Once Recently")
    now = datetime.now(UTC)
    invite(twice_long_ago, earliest, now - timedelta(days=300))
    invite(twice_long_ago, earlier, now - timedelta(days=250))
    invite(once_recently, earlier, now - timedelta(days=100))
    event = make_event(organiser=organiser, capacity=1)
    event.planning_mode = PlanningMode.EVEN  # the look-back window counts in the balanced modes; fair turns count a year
    db.session.commit()
    token = csrf_from(client.get(f"/events/{event.id}").data)

    client.post(f"/events/{event.id}/propose", data={"csrf_token": token, "lookback_days": "180"})
    assert [p.name for p in proposed(event)] == ["Twice Long Ago"]
    page = client.get(f"/events/{event.id}").data.decode()
    assert "last invited 8 months ago" in page

    client.post(f"/events/{event.id}/propose", data={"csrf_token": token, "lookback_days": "365"})
    assert [p.name for p in proposed(event)] == ["Once Recently"]


@pytest.mark.parametrize("bad", ["0", "-5", "ten", "99999", "1.5"])
def test_a_bad_lookback_is_refused_with_a_message_and_keeps_the_proposal(client, login, make_person, make_event, bad):
    organiser = login()
    grid_people(make_person)
    event = make_event(organiser=organiser, capacity=4)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    before = {p.id for p in proposed(event)}
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token, "lookback_days": bad, "seed": "99"})
    _, messages = flashes(client, event)
    assert ("error", "The look-back window must be a whole number of days from 1 to 3650.") in messages
    assert {p.id for p in proposed(event)} == before


# --- who may be proposed --------------------------------------------------------------------


def test_inactive_opted_out_and_on_leave_people_are_never_proposed(app, make_person, make_event):
    event = make_event(capacity=20)
    day = event_day(event)
    available = [
        make_person(name="Plain"),
        make_person(name="Leave ended the day before", on_leave_until=day - timedelta(days=1)),
    ]
    make_person(name="Inactive", is_active=False)
    make_person(name="Opted out", is_opted_out=True)
    make_person(name="On leave that day", on_leave_until=day)
    make_person(name="On leave for long", on_leave_until=day + timedelta(days=60))

    for seed in range(5):
        planning.propose(db.session, event, NOW, lookback_days=180, seed=seed)
        assert {p.name for p in proposed(event)} == {p.name for p in available}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"is_active": False}, "is inactive"),
        ({"is_opted_out": True}, "has opted out of invitations"),
        ({"on_leave_until": lambda: date.today() + timedelta(days=30)}, "is on leave until"),  # read when the test runs
    ],
)
def test_adding_an_unavailable_person_by_hand_is_refused(client, login, make_person, make_event, fields, message):
    organiser = login()
    fields = {name: value() if callable(value) else value for name, value in fields.items()}
    make_person(email="away@example.com", name="Away Person", **fields)
    event = make_event(organiser=organiser)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/add", data={"csrf_token": token, "email": "away@example.com"})
    _, messages = flashes(client, event)
    assert any(kind == "error" and "Away Person " + message in text for kind, text in messages), messages
    assert proposed(event) == []


# --- exclusions and must --------------------------------------------------------------------


def test_excluded_people_stay_out_of_new_proposals_but_removed_ones_may_return(client, login, make_person, make_event):
    organiser = login()
    people = grid_people(make_person, per_cell=1)
    event = make_event(organiser=organiser, capacity=len(people))
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    excluded, removed = people[0], people[1]
    client.post(f"/events/{event.id}/remove", data={"csrf_token": token, "person_id": excluded.id, "exclude": "1"})
    client.post(f"/events/{event.id}/remove", data={"csrf_token": token, "person_id": removed.id})
    assert {p.id for p in proposed(event)} == {p.id for p in people[2:]}
    page, messages = flashes(client, event)
    assert 'id="excluded"' in page and excluded.name in page.split('id="excluded"')[1]

    for seed in ("1", "2", "3"):
        client.post(f"/events/{event.id}/propose", data={"csrf_token": token, "seed": seed})
        chosen = {p.id for p in proposed(event)}
        assert excluded.id not in chosen and removed.id in chosen

    client.post(f"/events/{event.id}/allow", data={"csrf_token": token, "person_id": excluded.id})
    assert db.session.scalar(select(EventExclusion)) is None
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    assert excluded.id in {p.id for p in proposed(event)}


def test_adding_an_excluded_person_by_hand_lifts_the_exclusion(app, make_person, make_event):
    person = make_person(email="back@example.com")
    event = make_event()
    planning.add_person(db.session, event, person, NOW, lookback_days=180)
    planning.remove_person(db.session, event, person.id, exclude=True)
    assert planning.excluded_ids(db.session, event) == {person.id}
    entry = planning.add_person(db.session, event, person, NOW, lookback_days=180)
    assert planning.excluded_ids(db.session, event) == set()
    assert entry.reason == "added by hand; never invited"
    with pytest.raises(PlanningError, match="already in the proposal"):
        planning.add_person(db.session, event, person, NOW, lookback_days=180)


def test_must_people_stay_in_every_new_proposal(client, login, make_person, make_event):
    organiser = login()
    people = grid_people(make_person, per_cell=3)
    host = make_person(email="host@example.com", name="The Host", department="Sales", level=0)
    event = make_event(organiser=organiser, capacity=4)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/add", data={"csrf_token": token, "email": "host@example.com", "must": "1"})
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    chosen = proposed(event)
    other = next(p for p in chosen if p.id != host.id)
    client.post(f"/events/{event.id}/must", data={"csrf_token": token, "person_id": other.id, "is_must": "1"})
    for seed in range(1, 6):
        client.post(f"/events/{event.id}/propose", data={"csrf_token": token, "seed": str(seed)})
        chosen = proposed(event)
        assert {host.id, other.id} <= {p.id for p in chosen} and len(chosen) == 4
    page = client.get(f"/events/{event.id}").data.decode()
    host_row = re.search(rf'<tr data-person="{host.id}">.*?</tr>', page, re.S).group(0)
    assert '<strong class="must">must</strong>' in host_row and "Replace" not in host_row
    assert len(people) == 12

    client.post(f"/events/{event.id}/replace", data={"csrf_token": token, "person_id": host.id})
    _, messages = flashes(client, event)
    assert ("error", "The Host is marked must; unmark them before replacing.") in messages


def test_more_must_people_than_seats_are_refused(app, make_person, make_event):
    event = make_event(capacity=1)
    first, second = make_person(), make_person()
    planning.add_person(db.session, event, first, NOW, lookback_days=180, is_must=True)
    planning.add_person(db.session, event, second, NOW, lookback_days=180)
    with pytest.raises(PlanningError, match="already taken by must people"):
        planning.set_must(db.session, event, second.id, True)
    planning.add_person(db.session, event, make_person(), NOW, lookback_days=180, is_must=True)
    with pytest.raises(PlanningError, match="2 people are marked must but the event has 1 seats"):
        planning.propose(db.session, event, NOW, lookback_days=180)


# --- replace and the deviation --------------------------------------------------------------


def test_replace_takes_someone_from_the_same_cell_and_keeps_the_deviation_optimal(app, make_person, make_event):
    people = grid_people(make_person, departments=("Sales", "Engineering", "People"), levels=(0, 1, 2), per_cell=2)
    event = make_event(capacity=5)
    planning.propose(db.session, event, NOW, lookback_days=180, seed=4)
    best = measure(event).best
    assert measure(event).deviation == best
    same_cell = 0
    for person in proposed(event):
        cell = (person.department, person.level)
        taken = {entry.id for entry in proposed(event)}
        left_in_cell = [other for other in people if (other.department, other.level) == cell and other.id not in taken]
        entry = planning.replace_person(db.session, event, person.id, NOW, lookback_days=180).entry
        newcomer = entry.person
        if left_in_cell:  # a cell whose people are all proposed has nobody to give
            assert (newcomer.department, newcomer.level) == cell
            same_cell += 1
        assert newcomer.id != person.id and person.id not in {p.id for p in proposed(event)}
        assert entry.reason == f"never invited; in place of {person.name}"
        assert measure(event).deviation == best
    assert same_cell >= 3


def test_replace_moves_to_another_cell_when_its_own_is_empty_and_stays_optimal(app, make_person, make_event):
    lonely = make_person(name="Lonely", department="Sales", level=0)
    for i in range(2):
        make_person(name=f"Eng {i}", department="Engineering", level=0)
        make_person(name=f"People {i}", department="People", level=0)
    event = make_event(capacity=2)
    planning.add_person(db.session, event, lonely, NOW, lookback_days=180)
    planning.add_person(db.session, event, db.session.scalar(select(Person).where(Person.name == "Eng 0")), NOW, lookback_days=180)
    assert measure(event).deviation == measure(event).best
    newcomer = planning.replace_person(db.session, event, lonely.id, NOW, lookback_days=180).entry.person
    assert newcomer.department == "People"
    assert measure(event).deviation == measure(event).best


def test_replace_with_nobody_left_and_on_a_sent_event_says_why(app, make_person, make_event):
    only = make_person(name="Only One")
    event = make_event(capacity=3)
    planning.propose(db.session, event, NOW, lookback_days=180)
    with pytest.raises(PlanningError, match="Nobody else is available to replace Only One"):
        planning.replace_person(db.session, event, only.id, NOW, lookback_days=180)
    with pytest.raises(PlanningError, match="not in the proposal"):
        planning.replace_person(db.session, event, only.id + 100, NOW, lookback_days=180)
    event.status = EventStatus.SENT
    with pytest.raises(PlanningError, match="can no longer change"):
        planning.replace_person(db.session, event, only.id, NOW, lookback_days=180)


def test_replace_button_swaps_within_the_cell_and_shows_the_deviation(client, login, make_person, make_event):
    organiser = login()
    grid_people(make_person, per_cell=3)
    event = make_event(organiser=organiser, capacity=4)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    gone = proposed(event)[0]
    response = client.post(f"/events/{event.id}/replace", data={"csrf_token": token, "person_id": gone.id})
    assert response.status_code == 302
    now_in = proposed(event)
    newcomer = next(p for p in now_in if (p.department, p.level) == (gone.department, gone.level))
    assert gone.id not in {p.id for p in now_in} and len(now_in) == 4
    page, messages = flashes(client, event)
    assert ("success", f"Replaced {gone.name} with {newcomer.name}. Deviation now 0 (best possible for 4 people: 0).") in messages
    assert f"never invited; in place of {gone.name}" in page
    assert client.post(f"/events/{event.id}/replace", data={"person_id": newcomer.id}).status_code == 400


def test_adding_and_removing_by_hand_shows_the_new_deviation_at_once(client, login, make_person, make_event):
    organiser = login()
    for department in ("Sales", "Engineering", "People"):
        for i in range(2):
            make_person(email=f"{department.lower()}{i}@example.com", department=department, level=0)
    event = make_event(organiser=organiser, capacity=3)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    page, _ = flashes(client, event)
    assert "Deviation now 0 (best possible for 3 people: 0)." in page

    extra = next(p for p in db.session.scalars(select(Person)) if p.id not in {q.id for q in proposed(event)})
    client.post(f"/events/{event.id}/add", data={"csrf_token": token, "email": extra.email})
    page, messages = flashes(client, event)
    # four people over three departments of two: targets 4/3 each, so 2+1+1 is off by 2/3 + 1/3 + 1/3
    assert ("success", f"Added {extra.name}. Deviation now 1.33 (best possible for 4 people: 1.33).") in messages

    other = next(p for p in proposed(event) if p.department != extra.department)
    client.post(f"/events/{event.id}/remove", data={"csrf_token": token, "person_id": other.id})
    page, messages = flashes(client, event)
    assert ("success", f"Removed {other.name}. Deviation now 2 (best possible for 3 people: 0).") in messages
    assert 'class="deviation off"' in page


# --- the picture ----------------------------------------------------------------------------


def test_the_page_draws_the_grid_and_one_bar_per_department_and_level(client, login, make_person, make_event):
    organiser = login()
    grid_people(make_person, departments=("Sales", "Engineering", "People"), levels=(0, 1), per_cell=2)
    make_person(department="Finance", level=3)
    event = make_event(organiser=organiser, capacity=6)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    assert "<svg" not in client.get(f"/events/{event.id}").data.decode()
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    page = client.get(f"/events/{event.id}").data.decode()

    departments, levels = 4, 3
    assert page.count('class="bar chosen"') == departments + levels
    assert page.count('<line class="target"') == departments + levels
    assert page.count('<rect class="pool') == departments * levels
    department_svg = page.split('id="department-bars"')[1].split("</svg>")[0]
    assert re.findall(r">(Engineering|Finance|People|Sales)</text>", department_svg) == ["Engineering", "Finance", "People", "Sales"]
    chosen = {d: sum(p.department == d for p in proposed(event)) for d in ("Engineering", "Finance", "People", "Sales")}
    targets = {"Engineering": "1.67", "Finance": "1", "People": "1.67", "Sales": "1.67"}  # Finance has one person
    for department, count in chosen.items():
        assert f"<title>{department}: {count} chosen, target {targets[department]}</title>" in department_svg
    grid_svg = page.split('id="balance-grid"')[1].split("</svg>")[0]
    assert grid_svg.count('class="invited"') == len({(p.department, p.level) for p in proposed(event)})
    assert "invited of 2 available" in grid_svg and 'role="img"' in grid_svg
    assert "<script" not in page and 'style="' not in page


def test_chart_geometry_scales_bars_and_marks_targets():
    chart = bar_chart([("A", 2, 1.0), ("B", 0, 1.0), ("C", 1, 1.0)], width=300, left=100)
    assert [bar.state for bar in chart.bars] == ["over", "under", "on"]
    assert chart.bars[0].width == 140 and chart.bars[1].width == 0 and chart.bars[0].target_x == 170
    assert chart.bars[1].y > chart.bars[0].y and chart.height > chart.bars[2].y + chart.bars[2].height
    grid = grid_chart(["A", "B"], [(0, "Junior"), (3, "Senior")], {("A", 0): 4, ("B", 3): 1}, {("A", 0): 1, ("B", 3): 1})
    cells = {(c.pool, c.chosen): c for c in grid.cells}
    assert len(grid.cells) == 4 and [label.text for label in grid.columns] == ["Junior", "Senior"]
    assert cells[(4, 1)].shade == 4 and cells[(1, 1)].shade == 1 and cells[(0, 0)].shade == 0
    assert cells[(1, 1)].inner == 2 * cells[(4, 1)].inner


def test_the_balance_matches_the_pure_module(app, make_person, make_event):
    people = grid_people(make_person, departments=("Sales", "Engineering"), levels=(0, 1, 2), per_cell=2)
    event = make_event(capacity=5)
    planning.propose(db.session, event, NOW, lookback_days=180)
    candidates = [balance.Candidate(p.id, p.department, p.level) for p in people]
    measured = measure(event)
    assert measured.best == balance.best_deviation(candidates, 5)
    assert measured.department_targets == balance.targets(candidates, 5)[0]
    assert sum(measured.pool_cells.values()) == len(people) and sum(measured.chosen_cells.values()) == 5


# --- opting out -----------------------------------------------------------------------------


def invitation_link(make_person, make_event):
    person = make_person(name="Ivy Invitee")
    event = make_event()
    token, token_hash = new_token()
    db.session.add(Invitation(event=event, person=person, token_hash=token_hash))
    db.session.commit()
    return person, f"/rsvp/{token}/opt-out"


def test_opting_out_takes_a_post_and_a_get_changes_nothing(app, client, make_person, make_event):
    person, link = invitation_link(make_person, make_event)
    page = client.get(link)
    assert page.status_code == 200 and b"Stop inviting me" in page.data
    assert page.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    assert not db.session.get(Person, person.id).is_opted_out

    refused = client.post(link, data={})
    assert refused.status_code == 400
    db.session.expire_all()
    assert not db.session.get(Person, person.id).is_opted_out

    done = client.post(link, data={"csrf_token": csrf_from(page.data)})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Person, person.id).is_opted_out
    assert b'id="opted-out"' in client.get(link).data


@pytest.mark.parametrize("token", ["A" * 32, "short", "A" * 31 + "!"])
def test_a_tampered_opt_out_link_is_not_found(app, client, make_person, make_event, token):
    person, link = invitation_link(make_person, make_event)
    page = client.get(link)
    assert client.get(f"/rsvp/{token}/opt-out").status_code == 404
    assert client.post(f"/rsvp/{token}/opt-out", data={"csrf_token": csrf_from(page.data)}).status_code == 404
    db.session.expire_all()
    assert not db.session.get(Person, person.id).is_opted_out


def test_every_invitation_mail_carries_the_opt_out_link(client, login, make_person, make_event):
    organiser = login()
    make_person()
    event = make_event(organiser=organiser, capacity=1)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    client.post(f"/events/{event.id}/send", data={"csrf_token": token})
    raw = db.session.scalar(select(OutgoingMail.raw)).decode("utf-8", "replace")
    links = re.findall(r"http://planner\.test/rsvp/[A-Za-z0-9_-]{32}/opt-out", raw.replace("=\r\n", "").replace("=\n", ""))
    assert len(links) >= 2  # in the text part and in the HTML part
    path = links[0].removeprefix("http://planner.test")
    assert client.get(path).status_code == 200


# --- availability on the people page --------------------------------------------------------


def test_the_organiser_opts_a_person_back_in_and_sets_leave(client, login, make_person):
    login()
    person = make_person(name="Olaf Out", is_opted_out=True)
    page = client.get("/people/")
    token = csrf_from(page.data)
    assert b"Opt back in" in page.data and b"opted out" in page.data
    assert client.post(f"/people/{person.id}/opt-in", data={}).status_code == 400
    client.post(f"/people/{person.id}/opt-in", data={"csrf_token": token, "next": "/people/?q=Olaf"})
    db.session.expire_all()
    assert not db.session.get(Person, person.id).is_opted_out

    until = date.today() + timedelta(days=20)
    response = client.post(f"/people/{person.id}/leave", data={"csrf_token": token, "on_leave_until": until.isoformat()})
    assert response.headers["Location"].endswith("/people/")
    db.session.expire_all()
    assert db.session.get(Person, person.id).on_leave_until == until
    assert f"on leave until {until.isoformat()}" in client.get("/people/").data.decode()

    client.post(f"/people/{person.id}/leave", data={"csrf_token": token, "on_leave_until": ""})
    db.session.expire_all()
    assert db.session.get(Person, person.id).on_leave_until is None


@pytest.mark.parametrize(
    "text, message",
    [("next tuesday", "'next tuesday' is not a date; use the form YYYY-MM-DD."), ("2001-01-01", "The leave must end today or later")],
)
def test_a_bad_leave_date_gets_a_message_and_changes_nothing(client, login, make_person, text, message):
    login()
    until = date.today() + timedelta(days=5)
    person = make_person(name="Lea Leave", on_leave_until=until)
    token = csrf_from(client.get("/people/").data)
    response = client.post(
        f"/people/{person.id}/leave", data={"csrf_token": token, "on_leave_until": text, "next": "https://evil.example/"}
    )
    assert response.headers["Location"].endswith("/people/")
    page = client.get("/people/").data.decode()
    assert "Lea Leave: " + message.replace("'", "&#39;") in page
    db.session.expire_all()
    assert db.session.get(Person, person.id).on_leave_until == until


def test_an_organiser_in_the_directory_can_attend_as_a_must(client, login, make_person, make_event):
    organiser = login()
    me = make_person(email=organiser.email, name="Olivia Herself", department="People", level=4)
    make_person()
    event = make_event(organiser=organiser, capacity=2)
    page = client.get(f"/events/{event.id}").data.decode()
    assert "I attend (must)" in page
    client.post(f"/events/{event.id}/add", data={"csrf_token": csrf_from(page.encode()), "email": me.email, "must": "1"})
    [entry] = db.session.get(Event, event.id).proposals
    assert entry.person_id == me.id and entry.is_must and entry.reason == "must"
    assert "I attend (must)" not in client.get(f"/events/{event.id}").data.decode()
    assert client.get(f"/events/{event.id}/replace").status_code == 405


def test_a_balance_error_reaches_the_view_as_a_planning_error():
    with pytest.raises(PlanningError, match="The proposal cannot be balanced: k must be at least 0, got -1"):
        with planning.balance_refusals():
            planning.cell_targets({}, -1)
    assert issubclass(PlanningError, PlannerError)


def test_fair_turns_are_the_default_and_invite_who_has_waited_longest(client, login, make_person, make_event):
    organiser = login()
    earlier = make_event(organiser=organiser, title="Earlier lunch")
    went = [make_person(name=f"Went {i}", department="Sales") for i in range(3)]
    waiting = make_person(name="Never Went", department="Sales")
    newcomer = make_person(name="New Joiner", department="Legal", joined_on=(datetime.now(UTC) - timedelta(days=14)).date())
    for person in went:
        invite(person, earlier, datetime.now(UTC) - timedelta(days=30))
    event = make_event(organiser=organiser, capacity=2)
    assert event.planning_mode == PlanningMode.FAIR
    token = csrf_from(client.get(f"/events/{event.id}").data)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": token})
    assert sorted(p.name for p in proposed(event)) == ["Never Went", "New Joiner"]
    reasons = {entry.person.name: entry.reason for entry in db.session.get(Event, event.id).proposals}
    assert reasons == {"Never Went": "never invited", "New Joiner": "joined 2 weeks ago, never invited"}
    assert newcomer.id in {entry.person_id for entry in db.session.get(Event, event.id).proposals}
    assert waiting.id in {entry.person_id for entry in db.session.get(Event, event.id).proposals}


def test_a_place_in_another_draft_counts_as_a_turn_while_that_draft_is_still_to_come_at_the_moment_planned_for(
        app, make_person, make_event):
    person = make_person(name="Pencilled In")
    other, event = make_event(title="Other round"), make_event(title="This round", days_ahead=14)
    db.session.add(ProposalEntry(event_id=other.id, person_id=person.id, reason="proposed"))
    db.session.commit()
    pool, _ = planning.proposal_pool(db.session, event, datetime.now(UTC), [], lookback_days=180)
    before = other.starts_at - timedelta(hours=1)
    assert planning.turn_history(db.session, pool, before, event).invited_on == {person.id: [before.date()]}
    # a replayed moment after the other round began (series run --now): its proposal is no turn any more
    assert planning.turn_history(db.session, pool, other.starts_at + timedelta(hours=1), event).invited_on == {}


def test_a_due_reason_names_colleagues_invited_more_recently(client, login, make_person, make_event):
    organiser = login()
    old, recent = make_event(organiser=organiser, title="Old"), make_event(organiser=organiser, title="Recent")
    longest = make_person(name="Longest Wait", department="Sales")
    others = [make_person(name=f"Sales {i}", department="Sales") for i in range(3)]
    invite(longest, old, datetime.now(UTC) - timedelta(days=210))
    for person in others:
        invite(person, recent, datetime.now(UTC) - timedelta(days=20))
    event = make_event(organiser=organiser, capacity=1)
    client.post(f"/events/{event.id}/propose", data={"csrf_token": csrf_from(client.get(f"/events/{event.id}").data)})
    (entry,) = db.session.get(Event, event.id).proposals
    assert entry.person.name == "Longest Wait"
    assert entry.reason == "due: last invited 7 months ago; 3 colleagues in Sales were invited more recently"


def test_the_organiser_switches_a_draft_to_equal_seats_and_back(client, login, make_person, make_event):
    login()
    event = make_event(capacity=2)
    page = client.get(f"/events/{event.id}")
    assert b"Fair turns: nobody is invited again" in page.data and b"In proportion to department size" in page.data
    token = csrf_from(page.data)
    response = client.post(f"/events/{event.id}/planning-mode", data={"csrf_token": token, "mode": "even"}, follow_redirects=True)
    assert b"Equal seats per department and level" in response.data and b"Propose again to apply it" in response.data
    assert db.session.get(Event, event.id).planning_mode == PlanningMode.EVEN
    assert client.post(f"/events/{event.id}/planning-mode", data={"csrf_token": token, "mode": "lottery"}).status_code == 400
    event.status = EventStatus.SENT
    db.session.commit()
    refused = client.post(f"/events/{event.id}/planning-mode", data={"csrf_token": token, "mode": "fair"}, follow_redirects=True)
    assert b"can no longer change" in refused.data
    assert db.session.get(Event, event.id).planning_mode == PlanningMode.EVEN


def test_the_pool_columns_hold_who_the_full_records_say_can_come_and_the_kept_entries(app, make_person, make_event):
    """proposal_pool reads columns straight from the database: the same people, by id, as a pool built in Python from
    the full records (eligible minus the excluded, plus the kept entries even when excluded or unavailable)."""
    event, earlier = make_event(capacity=6), make_event(title="Earlier")
    people = [make_person(department=("Sales", "Ops")[n % 2], level=n % 3) for n in range(12)]
    people[1].is_active = False
    people[2].is_opted_out = True
    people[3].on_leave_until = event_day(event)
    for person in people[4:7]:
        invite(person, earlier, NOW - timedelta(days=10 * people.index(person)))
    db.session.add_all([EventExclusion(event_id=event.id, person_id=people[n].id) for n in (5, 8)])
    db.session.commit()
    for kept in ([people[1].id, people[3].id, people[8].id], [people[1].id], []):
        pool, history = planning.proposal_pool(db.session, event, NOW, kept, lookback_days=180)
        expected = balance.Columns.of(reference_pool(event, NOW, kept))
        assert pool.ids.tolist() == expected.ids.tolist()
        for name in ("level", "recent", "last"):
            assert getattr(pool, name).tolist() == getattr(expected, name).tolist(), name
        assert [pool.departments[code] for code in pool.department] == [expected.departments[code] for code in expected.department]
        assert history == planning.invitation_history(db.session, NOW, 180)
    at = pool.positions([people[6].id])[0]
    assert (pool.recent[at], pool.last[at]) == (1, (NOW - timedelta(days=60)).date().toordinal())
    assert people[5].id not in pool.ids.tolist() and people[2].id not in pool.ids.tolist()