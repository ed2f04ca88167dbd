"""Network health: the ties of a period from the pair history, filters, the privacy merge, trends, the page, CSV, invite next."""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from planner.extensions import db
from planner.models import (
    Event,
    EventKind,
    EventStatus,
    FirstMeeting,
    Invitation,
    PairMeeting,
    ProposalEntry,
    Series,
    utcnow,
)
from planner.network import health
from planner.services import analytics
from planner.services.analytics import Filters, StaffMember
from tests.helpers import csrf_from, statements


def utc_today() -> date:
    """The day the analytics pages count up to (the UTC date, as the app reads it), read when the test runs."""
    return utcnow().date()


def days_ago(days: int) -> datetime:
    """Noon UTC that many days before today."""
    return datetime.combine(utc_today() - timedelta(days=days), time(12), tzinfo=UTC)




def met(event, a, b, day):
    """Record that a and b met at event on day."""
    first, second = sorted((a.id, b.id))
    db.session.add(PairMeeting(person_a_id=first, person_b_id=second, event_id=event.id, met_on=day))
    db.session.commit()


def make_series(organiser, title="Monthly lunch", previous=None):
    series = Series(kind=EventKind.LUNCH, title=title, start_time=time(12), end_time=time(13), timezone="UTC", capacity=8,
                    rrule="FREQ=MONTHLY;BYDAY=1TU", starts_on=utc_today(), organiser_id=organiser.id,
                    previous_id=previous.id if previous else None)
    db.session.add(series)
    db.session.commit()
    return series


@pytest.fixture
def people(make_person):
    """Two departments of five and one of two: a, b in Sales; c in Engineering; d in Legal (small)."""
    made = {}
    for department, names in (("Sales", "abstu"), ("Engineering", "cvwxy"), ("Legal", "dz")):
        for i, name in enumerate(names):
            made[name] = make_person(name=f"Person {name.upper()}", department=department, level=i % 4)
    return made


def test_period_ties_come_from_the_pair_history_with_inclusive_bounds_and_filters(app, people, make_event, make_organiser):
    p = people
    lunch, drinks = make_event(), make_event()
    drinks.kind = EventKind.DRINKS
    series_old = make_series(make_organiser(email="s@example.com"))
    series_new = make_series(series_old.organiser, previous=series_old)
    lunch.series_id = series_old.id
    db.session.commit()
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    met(lunch, p["a"], p["c"], start)
    met(lunch, p["b"], p["a"], end)
    met(drinks, p["a"], p["d"], date(2026, 1, 15))
    met(drinks, p["a"], p["v"], end + timedelta(days=1))
    met(drinks, p["a"], p["w"], start - timedelta(days=1))
    ties = analytics.period_ties(db.session, start, end)
    assert ties == {tuple(sorted((p["a"].id, p["c"].id))), tuple(sorted((p["a"].id, p["b"].id))),
                    tuple(sorted((p["a"].id, p["d"].id)))}
    assert analytics.period_ties(db.session, start, end, kind=EventKind.DRINKS) == {tuple(sorted((p["a"].id, p["d"].id)))}
    chain = analytics.series_chain([series_old, series_new], series_new.id)
    assert chain == [series_new.id, series_old.id]
    assert len(analytics.period_ties(db.session, start, end, series_ids=chain)) == 2
    assert analytics.period_ties(db.session, start, end, series_ids=[series_new.id]) == set()


def member(id, department, level=0, joined_on=None):
    return StaffMember(id, f"N{id}", department, level, joined_on, False, None)


def test_departments_under_the_minimum_are_merged_and_withheld_when_still_too_few():
    staff = [member(i, "Big") for i in range(6)] + [member(10 + i, "Small") for i in range(3)]
    staff += [member(20 + i, "Tiny") for i in range(2)]
    grouping = analytics.group_departments(staff, 5)
    other = analytics.merged_label(5)
    assert grouping.labels == ["Big", other] and grouping.withheld == 0
    assert grouping.of == {"Big": "Big", "Small": other, "Tiny": other}
    withheld = analytics.group_departments(staff[:9], 5)
    assert withheld.labels == ["Big"] and withheld.withheld == 3 and withheld.of["Small"] is None


def test_per_department_figures_follow_the_merge_and_match_network_health():
    staff = [member(i, "Big") for i in range(5)] + [member(10, "Small"), member(11, "Small"), member(12, "Tiny"),
                                                    member(13, "Tiny"), member(14, "Tiny")]
    ties = {(0, 1), (0, 10), (10, 12), (11, 12)}
    people = analytics._members(staff)
    overall = health(people, ties)
    grouping = analytics.group_departments(staff, 5)
    big, small = analytics.department_groups(staff, ties, overall, grouping)
    assert (big.name, big.people, big.external, big.internal) == ("Big", 5, 1, 1)
    assert big.coverage == pytest.approx(1 / 5) and big.ei_index == 0.0
    assert (small.people, small.external, small.internal) == (5, 3, 0)
    assert small.coverage == pytest.approx(3 / 5) and small.ei_index == 1.0
    other = analytics.merged_label(5)
    matrix = analytics.tie_matrix(grouping.labels, {m.id: grouping.of[m.department] for m in staff}, ties)
    assert matrix.get("Big", "Big") == 1 and matrix.get("Big", other) == matrix.get(other, "Big") == 1
    assert matrix.get(other, other) == 2


def test_trends_per_month_against_a_hand_made_history():
    today = date(2026, 6, 10)
    staff = [member(1, "A"), member(2, "B"), member(3, "A", joined_on=date(2026, 5, 20)), member(4, "A", level=3)]
    dated = [(1, 2, date(2026, 5, 3)), (2, 1, date(2026, 5, 20)), (1, 3, date(2026, 6, 1)), (3, 2, date(2026, 6, 9)),
             (1, 4, date(2025, 6, 30)), (1, 2, date(2025, 5, 31))]
    months = analytics.trends(staff, dated, today, junior_max=1)
    assert months[0].first_day == date(2025, 7, 1) and months[-1].first_day == date(2026, 6, 1) and len(months) == 12
    may, june = months[-2], months[-1]
    assert (may.people, may.ties, may.coverage, may.ei_index) == (4, 1, 0.5, 1.0)
    assert (june.people, june.ties, june.coverage) == (4, 2, 0.5)
    assert june.ei_index == 0.0 and june.bridge == 0.0
    assert all(m.ties == 0 and m.coverage == 0 for m in months[:-2])
    early = analytics.trends(staff, [], date(2026, 5, 31), junior_max=1)
    assert early[-1].people == 4 and early[-2].people == 3  # person 3 joined on 20 May


def test_the_isolation_list_puts_newcomers_past_30_days_first():
    today = date(2026, 6, 30)
    filters = Filters(today - timedelta(days=180), today)
    staff = [member(1, "A"), member(2, "A", joined_on=date(2026, 5, 1)), member(3, "B", joined_on=date(2026, 6, 20)),
             member(4, "B", joined_on=date(2026, 3, 1)), member(5, "C")]
    overall = health(analytics._members(staff), {(1, 5)})
    listed = analytics.isolation_list(staff, overall, filters, today)
    assert [item.member.id for item in listed] == [4, 2, 3]
    assert [item.is_newcomer for item in listed] == [True, True, False]


def test_the_spread_of_invitations_counts_everyone_and_bins_the_busiest():
    staff = [member(i, "A") for i in range(5)]
    spread = analytics.invitation_spread(staff, {0: 1, 1: 1, 2: 12, 3: 3})
    assert (spread.people, spread.least, spread.median, spread.most) == (5, 0, 1.0, 12)
    assert spread.bins == [("0", 1), ("1", 2), ("2", 0), ("3", 1), ("4", 0), ("5", 0), ("6", 0), ("7", 0), ("8+", 1)]
    assert analytics.invitation_spread([], {}).bins == []


@pytest.mark.parametrize(("args", "problem"), [
    ({"start": "31/01/2026"}, "must look like"),
    ({"start": "2026-02-01", "end": "2026-01-01"}, "starts after it ends"),
    ({"start": "2000-01-01", "end": "2026-01-01"}, "at most"),
    ({"kind": "party"}, "Unknown event kind"),
    ({"series": "99"}, "does not exist"),
])
def test_bad_filters_fall_back_to_defaults_with_a_reason(args, problem):
    filters, problems = analytics.parse_filters(args, date(2026, 6, 30), 180, [1])
    assert len(problems) == 1 and problem in problems[0]
    assert filters.kind is None and filters.series_id is None and filters.start <= filters.end


def test_the_default_period_is_the_last_180_days():
    filters, problems = analytics.parse_filters({}, date(2026, 6, 30), 180, [])
    assert problems == [] and (filters.start, filters.end) == (date(2026, 1, 1), date(2026, 6, 30))
    kept, _ = analytics.parse_filters({"kind": "lunch", "series": "3"}, date(2026, 6, 30), 180, [3])
    assert kept.kind == EventKind.LUNCH and kept.series_id == 3 and kept.args["series"] == "3"


# --- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/analytics", "/analytics/headline.csv", "/analytics/isolated.csv"])
def test_analytics_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_invite_next_needs_a_login(client):
    response = client.post("/analytics/invite-next", data={"person_id": "1"})
    assert response.status_code in (302, 400)
    assert db.session.scalar(select(ProposalEntry)) is None


def test_the_page_shows_the_figures_the_heat_maps_and_the_isolated(client, login, people):
    organiser = login()
    p = people
    lunch = Event(uid="x@t", kind=EventKind.LUNCH, title="Lunch", starts_at=days_ago(3),
                  ends_at=days_ago(3) + timedelta(hours=1), timezone="UTC", capacity=8,
                  status=EventStatus.SENT, organiser_id=organiser.id)
    db.session.add(lunch)
    db.session.commit()
    met(lunch, p["a"], p["c"], utc_today() - timedelta(days=3))
    met(lunch, p["a"], p["b"], utc_today() - timedelta(days=3))
    page = client.get("/analytics").data.decode()
    assert "<h1>Network health</h1>" in page
    assert "Coverage</dt><dd>17%" in page  # a and c of 12 people
    assert "<svg class=\"heat\"" in page and "Ties between departments, as numbers" in page
    assert analytics.merged_label(5) not in page and "Legal</th>" not in page  # 2 people: withheld
    assert "2 people in departments under 5 people are counted" in page
    assert 'name="person_id" value="%d"' % p["b"].id in page and 'name="person_id" value="%d"' % p["a"].id not in page
    assert "No series and no draft event to invite them to" in page


def csv_rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.data.decode())))


def test_every_figure_downloads_as_csv_with_safe_cells(client, login, make_person, people):
    login()
    make_person(name="=HYPERLINK(\"http://evil\")", department="Sales")
    for figure in ("headline", "departments", "department-ties", "level-ties", "isolated", "never-invited", "invitations",
                   "trends"):
        rows = csv_rows(client.get(f"/analytics/{figure}.csv"))
        assert len(rows) >= 2, figure
    isolated = csv_rows(client.get("/analytics/isolated.csv"))
    assert ["'=HYPERLINK(\"http://evil\")", "Sales"] == isolated[1][:2] or any(row[0].startswith("'=") for row in isolated)
    assert not any(row[0].startswith("=") for row in isolated)
    headline = dict(csv_rows(client.get("/analytics/headline.csv?start=2026-01-01&end=2026-01-31"))[1:])
    assert headline["period start"] == "2026-01-01" and headline["people"] == "13"
    assert client.get("/analytics/nothing.csv").status_code == 404


def draft_round(make_event, organiser, series, capacity=3, days_ahead=10):
    event = make_event(organiser=organiser, capacity=capacity, days_ahead=days_ahead)
    event.series_id = series.id
    db.session.commit()
    return event


def post_invite(client, target, person_ids):
    token = csrf_from(client.get("/analytics").data)
    return client.post("/analytics/invite-next", data={"csrf_token": token, "target": target, "start": "2026-01-01",
                                                        "person_id": [str(i) for i in person_ids]})


def test_invite_next_adds_must_people_to_the_next_draft_round_within_its_seats(client, login, people, make_event):
    organiser = login()
    p = people
    series = make_series(organiser)
    later = draft_round(make_event, organiser, series, days_ahead=20)
    first = draft_round(make_event, organiser, series, capacity=2)
    first.proposals.append(ProposalEntry(person_id=p["a"].id, reason="chosen"))
    db.session.commit()
    response = post_invite(client, f"series:{series.id}", [p["a"].id, p["b"].id, p["c"].id])
    assert response.status_code == 302 and "start=2026-01-01" in response.headers["Location"]
    entries = db.session.scalars(select(ProposalEntry).where(ProposalEntry.event_id == first.id)).all()
    assert sorted((entry.person_id, entry.is_must) for entry in entries) == sorted([(p["a"].id, True), (p["b"].id, True)])
    assert db.session.scalars(select(ProposalEntry).where(ProposalEntry.event_id == later.id)).all() == []
    page = client.get(response.headers["Location"]).data.decode()
    assert "Added 2 people as must" in page and f"No room for {p['c'].name}" in page


def test_invite_next_refuses_clearly(client, login, people, make_event):
    organiser = login()
    series = make_series(organiser)
    response = post_invite(client, f"series:{series.id}", [people["a"].id])
    assert "has no round waiting for review yet" in client.get(response.headers["Location"]).data.decode()
    event = make_event(organiser=organiser)
    nobody = post_invite(client, f"event:{event.id}", [])
    assert "Tick at least one person" in client.get(nobody.headers["Location"]).data.decode()
    unknown = post_invite(client, "event:999", [1])
    assert "Choose a series or a draft event" in client.get(unknown.headers["Location"]).data.decode()
    assert client.post("/analytics/invite-next", data={"target": f"event:{event.id}", "person_id": "1"}).status_code == 400
    assert db.session.scalar(select(ProposalEntry)) is None


def history(organiser_id, staff, numbers):
    """Sent events in the past, each with three invitations and its pairs recorded (staff: person ids)."""
    for n in numbers:
        starts = days_ago(5 + n)
        event = Event(uid=f"h{n}@t", kind=EventKind.LUNCH, title=f"Lunch {n}", starts_at=starts,
                      ends_at=starts + timedelta(hours=1), timezone="UTC", capacity=8, status=EventStatus.SENT,
                      organiser_id=organiser_id)
        db.session.add(event)
        db.session.flush()
        guests = [staff[(n + i) % len(staff)] for i in range(3)]
        for guest in guests:
            db.session.add(Invitation(event_id=event.id, person_id=guest, token_hash=f"h-{n}-{guest}", answer="yes"))
        for i, x in enumerate(guests):
            for y in guests[i + 1:]:
                a, b = sorted((x, y))
                db.session.add(PairMeeting(person_a_id=a, person_b_id=b, event_id=event.id, met_on=starts.date()))
    db.session.commit()


def test_the_page_costs_the_same_statements_for_2_or_20_events(client, login, people, make_event):
    organiser = login()
    draft_round(make_event, organiser, make_series(organiser))
    staff, organiser_id = [person.id for person in people.values()], organiser.id
    history(organiser_id, staff, range(2))
    with statements() as few:
        assert client.get("/analytics").status_code == 200
    history(organiser_id, staff, range(2, 20))
    with statements() as many:
        assert client.get("/analytics").status_code == 200
    assert len(few) == len(many) == 9
    with statements() as download:
        assert client.get("/analytics/trends.csv").status_code == 200
    assert len(download) == 9  # the report's 8 and the audit entry of the download


def test_invite_next_chooses_the_rest_again_when_the_proposal_is_full(client, login, people, make_event):
    organiser = login()
    p = people
    draft = make_event(organiser=organiser, capacity=3)
    for name in "stu":
        draft.proposals.append(ProposalEntry(person_id=p[name].id, reason="chosen"))
    p["z"].is_opted_out = True
    db.session.commit()
    page = client.get("/analytics").data.decode()
    assert 'value="%d"' % p["z"].id not in page and "opted out" in page
    response = post_invite(client, f"event:{draft.id}", [p["a"].id, p["b"].id, p["z"].id])
    entries = db.session.scalars(select(ProposalEntry).where(ProposalEntry.event_id == draft.id)).all()
    assert len(entries) == 3
    assert {entry.person_id for entry in entries if entry.is_must} == {p["a"].id, p["b"].id}
    assert all(entry.reason == analytics.NEXT_REASON for entry in entries if entry.is_must)
    message = client.get(response.headers["Location"]).data.decode()
    assert "chosen again around them" in message and "Person Z (has opted out of invitations)" in message


def test_first_meetings_reported_in_feedback_are_a_second_measure(client, login, people):
    organiser = login()
    p = people
    lunch = Event(uid="reported@t", kind=EventKind.LUNCH, title="Lunch", starts_at=days_ago(3),
                  ends_at=days_ago(3) + timedelta(hours=1), timezone="UTC", capacity=8,
                  status=EventStatus.SENT, organiser_id=organiser.id)
    db.session.add(lunch)
    db.session.commit()
    db.session.add_all([FirstMeeting(event_id=lunch.id, person_id=p["a"].id, met_person_id=p["c"].id),
                        FirstMeeting(event_id=lunch.id, person_id=p["c"].id, met_person_id=p["a"].id)])
    db.session.commit()
    ties = analytics.reported_ties(db.session, utc_today() - timedelta(days=30), utc_today())
    assert ties == {tuple(sorted((p["a"].id, p["c"].id)))}
    assert analytics.reported_ties(db.session, utc_today() - timedelta(days=2), utc_today()) == set()
    page = client.get("/analytics").data.decode()
    assert "1 first meeting reported" in page and "17% of active people have a tie outside" in page
    headline = dict(csv_rows(client.get("/analytics/headline.csv"))[1:])
    assert headline["reported first meetings"] == "1" and headline["ties"] == "0"
