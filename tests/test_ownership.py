"""Ownership: every route of an event, series, invitation, plan, mail, question or export refuses a second organiser;
co-organisers and admins get in; viewers read but never change; the lists show only what each may see."""

import json
import re
import threading
from datetime import date, time, timedelta

import pytest
from sqlalchemy import insert, select

from planner.extensions import db
from planner.mailer import mail_settings
from planner.models import (
    Answer,
    AuditEntry,
    Event,
    EventKind,
    EventStatus,
    Invitation,
    OrganiserRole,
    OutgoingMail,
    QuestionKind,
    Seat,
    SeatingPlan,
    Series,
    utcnow,
)
from planner.recurrence import Pattern
from planner.services import planning
from planner.services.digest import summaries
from planner.services.invites import send_invites
from planner.services.questions import QuestionDraft, add_question
from planner.services.series import SeriesDraft, edit_from
from tests.helpers import PASSWORD, csrf_from, holding_after, run_threads_listening, staff

#: routes anybody may open: the login, the invitees' token pages, health and static files
PUBLIC = {
    "static", "index", "health.healthz", "health.readyz", "auth.login", "auth.logout", "sso.login", "sso.callback",
    "rsvp.show", "rsvp.answer", "rsvp.needs_page", "rsvp.save_needs_page", "rsvp.opt_out_page", "rsvp.opt_out_confirm",
    "feedback.show", "feedback.save", "feeds.calendar", "feeds.person_feed", "feeds.change_person_feed",
}
#: organiser pages about no one object: the lists (filtered, see the tests below), forms for new things, one's own settings
GLOBAL = {
    "dashboard.index", "events.index", "events.new", "series.index", "series.new", "people.index", "people.export",
    "people.show", "analytics.index", "analytics.download", "analytics.invite_next", "account.notifications",
    "account.save_notifications", "feed_settings.feed_settings", "feed_settings.change_feed", "mailbox.index",
    "mailbox.show", "mailbox.html", "mailbox.calendar",
}
#: directory changes: admins only (every route of the admin blueprint is too)
ADMIN_ONLY = {"people.upload", "people.preview", "people.confirm", "people.leave", "people.opt_back_in"}
#: blueprints of admins only, besides the admin blueprint itself
ADMIN_BLUEPRINTS = {"admin", "privacy", "audit"}
#: blueprints that take a bearer token and no session: an organiser's cookie gets nobody in
TOKEN_BLUEPRINTS = {"scim"}
#: the arguments that name one event or series (or a thing of one): a rule with one of them is an object route
OBJECT_ARGUMENTS = {"event_id", "series_id"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SEATING = json.dumps({"mode": "tables", "min_size": 4, "max_size": 8, "sizes": [], "w_department": 1.0, "w_level": 0.5,
                      "w_new": 1.0, "include_maybe": False, "limits": [[1, 8]], "recovery_days": 182})


def _log_in(app, organiser):
    client = app.test_client()
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"email": organiser.email, "password": PASSWORD,
                                                "csrf_token": csrf_from(page.data)})
    assert response.status_code == 302, response.data
    client.csrf = csrf_from(client.get("/dashboard/").data)
    return client


@pytest.fixture
def world(app, make_organiser, make_person, make_event):
    """An admin, an owner with a sent event (invitations, outbox mail, a seating plan, a question) and a series with a
    round, a second organiser, a co-organiser of the event, one of the series, and a viewer."""
    admin = make_organiser("admin@example.com", "Ada Admin")
    owner, other, event_co, series_co = (make_organiser(f"{name}@example.com", name.title(), role=OrganiserRole.ORGANISER)
                                         for name in ("owner", "other", "eventco", "seriesco"))
    viewer = make_organiser("viewer@example.com", "Vic Viewer", role=OrganiserRole.VIEWER)
    people = staff(make_person, 12)
    event = make_event(organiser=owner, capacity=8, title="Owner lunch")
    planning.propose(db.session, event, utcnow(), lookback_days=180, seed=1)
    send_invites(db.session, event, mail_settings())
    add_question(db.session, event, QuestionDraft("Which dessert?", QuestionKind.ONE, "Cake\nFruit", False))
    db.session.commit()
    attendees = [invitation.person_id for invitation in event.invitations]
    plan = SeatingPlan(event_id=event.id, seed=0, settings=SEATING)
    db.session.add(plan)
    db.session.flush()
    db.session.execute(insert(Seat), [{"plan_id": plan.id, "person_id": person_id, "table_index": 0} for person_id in attendees])
    series = Series(kind=EventKind.LUNCH, title="Owner monthly", capacity=5, start_time=time(12), end_time=time(13),
                    timezone="Europe/Berlin", rrule="FREQ=MONTHLY", starts_on=date.today(), organiser_id=owner.id)
    db.session.add(series)
    db.session.flush()
    round_ = make_event(organiser=owner, title="Owner monthly round", days_ahead=10)
    round_.series_id, round_.occurrence_on = series.id, date.today()
    event.co_organisers.append(event_co)
    series.co_organisers.append(series_co)
    db.session.commit()
    mail = db.session.scalar(select(OutgoingMail).where(OutgoingMail.event_id == event.id).limit(1))
    values = {
        "event_id": event.id, "series_id": series.id, "invitation_id": event.invitations[0].id, "plan_id": plan.id,
        "mail_id": mail.id, "question_id": event.questions[0].id, "organiser_id": event_co.id, "what": "attendees",
        "person_id": people[0].id, "staged_id": 1, "figure": "headline", "name": "none", "user_id": str(people[0].id),
        "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User", "type_id": "User", "rest": "Groups",
    }
    return {"admin": admin, "owner": owner, "other": other, "event_co": event_co, "series_co": series_co,
            "viewer": viewer, "event": event, "series": series, "round": round_, "values": values}


def _url(rule, values: dict) -> str:
    missing = rule.arguments - values.keys()
    assert not missing, f"{rule.endpoint}: teach this test a value for {sorted(missing)}"
    return rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]


def _methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _request(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": client.csrf, "organiser_id": "1", "role": "admin"})


def _kind(rule) -> str:
    blueprint = rule.endpoint.rpartition(".")[0]
    if rule.endpoint in PUBLIC:
        return "public"
    if blueprint in ADMIN_BLUEPRINTS or rule.endpoint in ADMIN_ONLY:
        return "admin"
    if blueprint in TOKEN_BLUEPRINTS:
        return "token"
    if rule.arguments & OBJECT_ARGUMENTS:
        return "object"
    if rule.endpoint in GLOBAL:
        return "global"
    return "unclassified"


def test_a_second_organiser_gets_403_or_404_on_every_route_of_the_first_organisers_objects(app, world):
    app.config["SCIM_TOKEN"] = "a-directory-token-of-forty-characters-x"
    app.config["SCIM_MAX_FAILURES"] = 1000  # every SCIM route gets a wrong token here: no 429 on the way
    other = _log_in(app, world["other"])
    checked, unclassified = [], []
    for rule in app.url_map.iter_rules():
        kind = _kind(rule)
        if kind == "unclassified":
            unclassified.append(rule.endpoint)
        if kind not in ("object", "admin", "token"):
            continue
        url = _url(rule, world["values"])
        for method in _methods(rule):
            response = _request(other, method, url)
            expected = {"admin": {403}, "object": {403, 404}, "token": {401}}[kind]
            assert response.status_code in expected, f"{method} {url} ({rule.endpoint}): {response.status_code}"
            checked.append((rule.endpoint, method))
    assert not unclassified, f"routes the ownership test does not know (classify them above): {sorted(unclassified)}"
    assert len({endpoint for endpoint, _ in checked}) >= 50
    assert ("seating.publish", "POST") in checked and ("exports.download", "GET") in checked
    assert ("privacy.erase", "POST") in checked and ("scim.patch", "PATCH") in checked
    event = db.session.get(Event, world["event"].id)
    db.session.refresh(event)
    assert event.status == EventStatus.SENT and [item.id for item in event.co_organisers] == [world["event_co"].id]


def _object_pages(world) -> list[str]:
    event, series = world["event"].id, world["series"].id
    invitation, question = world["values"]["invitation_id"], world["values"]["question_id"]
    return [f"/events/{event}", f"/events/{event}/seating", f"/events/{event}/exports/", f"/events/{event}/exports/answers.csv",
            f"/events/{event}/questions", f"/events/{event}/questions/{question}", f"/events/{event}/feedback",
            f"/events/{event}/attendance", f"/events/{event}/edit", f"/events/{event}/invitations/{invitation}/uninvite",
            f"/series/{series}", f"/series/{series}/feedback", f"/events/{world['round'].id}"]


def test_the_owner_co_organisers_and_admins_open_every_page_others_get_404(app, world):
    pages = _object_pages(world)
    for who in ("owner", "admin", "viewer"):
        client = _log_in(app, world[who])
        for url in pages:
            personal = who == "viewer" and url.endswith("/exports/answers.csv")  # answers and notes: not for viewers
            assert client.get(url).status_code == (403 if personal else 200), (who, url)
    event_co, series_co, other = (_log_in(app, world[who]) for who in ("event_co", "series_co", "other"))
    for url in pages:
        expected_event_co = 404 if url.startswith("/series/") or str(world["round"].id) in url.split("/")[2:3] else 200
        expected_series_co = 200 if url.startswith("/series/") or url == f"/events/{world['round'].id}" else 404
        assert event_co.get(url).status_code == expected_event_co, ("event co-organiser", url)
        assert series_co.get(url).status_code == expected_series_co, ("series co-organiser", url)
        assert other.get(url).status_code == 404, ("other", url)


def test_a_co_organiser_may_change_the_event_but_only_its_owner_or_an_admin_shares_it(app, world):
    event = world["event"]
    event_co = _log_in(app, world["event_co"])
    response = event_co.post(f"/events/{event.id}/questions", data={
        "csrf_token": event_co.csrf, "label": "Coffee?", "kind": "one", "choices": "Yes\nNo"})
    assert response.status_code == 303
    assert event_co.post(f"/events/{event.id}/co-organisers",
                         data={"csrf_token": event_co.csrf, "organiser_id": world["other"].id}).status_code == 403
    owner = _log_in(app, world["owner"])
    page = owner.get(f"/events/{event.id}").get_data(as_text=True)
    assert 'id="co-organisers"' in page and "Eventco" in page and f'value="{world["other"].id}"' in page
    assert f'value="{world["viewer"].id}"' not in page  # a viewer cannot co-organise
    assert owner.post(f"/events/{event.id}/co-organisers",
                      data={"csrf_token": owner.csrf, "organiser_id": world["other"].id}).status_code == 302
    other = _log_in(app, world["other"])
    assert other.get(f"/events/{event.id}").status_code == 200
    assert f"/events/{event.id}" in other.get("/events/").get_data(as_text=True)
    assert owner.post(f"/events/{event.id}/co-organisers/{world['other'].id}/remove",
                      data={"csrf_token": owner.csrf}).status_code == 302
    assert other.get(f"/events/{event.id}").status_code == 404
    admin = _log_in(app, world["admin"])
    series = world["series"]
    assert admin.post(f"/series/{series.id}/co-organisers",
                      data={"csrf_token": admin.csrf, "organiser_id": world["other"].id}).status_code == 302
    assert other.get(f"/series/{series.id}").status_code == 200
    assert other.get(f"/events/{world['round'].id}").status_code == 200  # a series' rounds are shared with it
    assert other.get(f"/events/{event.id}").status_code == 404


def test_the_lists_show_an_organiser_only_their_own_and_shared_events(app, world):
    other, owner, admin = (_log_in(app, world[who]) for who in ("other", "owner", "admin"))
    for url in ("/events/", "/series/", "/dashboard/", "/analytics"):
        assert "Owner" not in other.get(url).get_data(as_text=True), url
    for client in (owner, admin):
        assert "Owner lunch" in client.get("/events/").get_data(as_text=True)
        assert "Owner monthly" in client.get("/series/").get_data(as_text=True)
        assert "Owner lunch" in client.get("/dashboard/").get_data(as_text=True)
    person = world["event"].invitations[0].person_id
    assert "Owner lunch" in owner.get(f"/people/{person}").get_data(as_text=True)
    assert "Owner lunch" not in other.get(f"/people/{person}").get_data(as_text=True)
    for client, is_admin in ((admin, True), (owner, False)):  # directory changes are for admins: no such buttons
        page = client.get("/people/").get_data(as_text=True)
        assert ("Import a staff CSV" in page) is is_admin and ("Set leave" in page) is is_admin


def test_a_viewer_gets_403_on_every_change_and_reads_the_dashboard_and_analytics(app, world):
    viewer = _log_in(app, world["viewer"])
    refused = []
    app.config["SCIM_TOKEN"] = "a-directory-token-of-forty-characters-x"
    app.config["SCIM_MAX_FAILURES"] = 1000  # every SCIM route gets a wrong token here: no 429 on the way
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or not rule.methods & UNSAFE:
            continue
        url = _url(rule, world["values"])
        expected = 401 if _kind(rule) == "token" else 403
        for method in sorted(rule.methods & UNSAFE):
            response = _request(viewer, method, url)
            assert response.status_code == expected, f"viewer {method} {url}: {response.status_code}"
            refused.append(rule.endpoint)
    assert {"events.send", "seating.publish", "changes.confirm_cancel", "people.upload", "admin.change_role",
            "co_organisers.add_to_event", "series.skip", "account.save_notifications"} <= set(refused)
    for url in ("/dashboard/", "/analytics", "/analytics/headline.csv", f"/events/{world['event'].id}"):
        assert viewer.get(url).status_code == 200, url
    event_id = world["event"].id
    for url in (f"/events/{event_id}/exports/answers.csv", f"/events/{event_id}/exports/attendees.csv",
                f"/events/{event_id}/venue-list.csv"):  # people's answers, notes and needs are not for viewers
        assert viewer.get(url).status_code == 403, url
    page = viewer.get(f"/events/{world['event'].id}").get_data(as_text=True)
    assert '<main class="read-only">' in page and 'href="/admin/"' not in page
    assert db.session.get(Event, world["event"].id).status == EventStatus.SENT
    assert db.session.scalar(select(Invitation.cancelled_at).where(Invitation.id == world["values"]["invitation_id"])) is None


def test_a_series_edited_from_a_date_keeps_its_co_organisers_and_the_digest_covers_co_organised_events(app, world):
    series, event = world["series"], world["event"]
    successor = edit_from(db.session, series, SeriesDraft(
        kind=EventKind.LUNCH, title="Owner monthly", description="", location="", capacity=6, start=time(12), end=time(13),
        timezone="Europe/Berlin", pattern=Pattern("monthly_weekday", weekday=1, nth=1), starts_on=date.today(),
        deadline_hours=48, plan_days_ahead=14), date.today(), utcnow())
    db.session.commit()
    assert [organiser.email for organiser in successor.co_organisers] == ["seriesco@example.com"]
    invitation = event.invitations[0]
    invitation.answer, invitation.answered_at = Answer.YES, utcnow()
    db.session.commit()
    since, until = utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1)
    assert [item.event.id for item in summaries(db.session, world["event_co"].id, since, until)] == [event.id]
    assert [item.event.id for item in summaries(db.session, world["owner"].id, since, until)] == [event.id]
    assert summaries(db.session, world["other"].id, since, until) == []


def _handover_url(world, kind: str, organiser) -> str:
    return f"/{'events' if kind == 'event' else 'series'}/{world[kind].id}/co-organisers/{organiser.id}/handover"


def _owner_and_co_organisers(thing) -> tuple[int, list[int]]:
    db.session.refresh(thing)
    return thing.organiser_id, sorted(organiser.id for organiser in thing.co_organisers)


def test_the_owner_hands_an_event_over_to_a_co_organiser_who_then_owns_it(app, world):
    event, owner, event_co = world["event"], world["owner"], world["event_co"]
    client = _log_in(app, owner)
    url = _handover_url(world, "event", event_co)
    assert f'href="{url}"' in client.get(f"/events/{event.id}").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)  # the confirmation changes nothing
    assert "Make Eventco the owner" in page and "Owner stays on as a co-organiser" in page
    assert client.post(url, data={}).status_code == 400
    assert _owner_and_co_organisers(event) == (owner.id, [event_co.id])
    done = client.post(url, data={"csrf_token": client.csrf}, follow_redirects=True).get_data(as_text=True)
    assert "Eventco now owns this event; Owner stays on as a co-organiser." in done
    assert _owner_and_co_organisers(event) == (event_co.id, [owner.id])
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "event.handed_over"))
    assert (entry.organiser_id, entry.subject_type, entry.subject_id) == (owner.id, "event", event.id)
    assert entry.summary == "Owner lunch from owner@example.com to eventco@example.com"
    assert client.get(f"/events/{event.id}").status_code == 200  # the previous owner keeps access, no longer hands over
    assert "Make owner" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    new_owner = _log_in(app, event_co)
    assert f'href="{_handover_url(world, "event", owner)}"' in new_owner.get(f"/events/{event.id}").get_data(as_text=True)


def test_an_admin_hands_a_series_over_with_its_rounds_to_come_and_past_rounds_keep_their_owner(app, world, make_event):
    series, owner, series_co = world["series"], world["owner"], world["series_co"]
    past = make_event(organiser=owner, title="Owner monthly past round")
    past.starts_at, past.ends_at = past.starts_at - timedelta(days=37), past.ends_at - timedelta(days=37)
    past.series_id, past.occurrence_on = series.id, date.today() - timedelta(days=30)
    world["round"].co_organisers.append(series_co)  # also a co-organiser of the round: listed once, as its owner
    db.session.commit()
    admin = _log_in(app, world["admin"])
    url = _handover_url(world, "series", series_co)
    assert f'href="{url}"' in admin.get(f"/series/{series.id}").get_data(as_text=True)
    page = admin.get(url).get_data(as_text=True)
    assert "1 round of it still to come (past rounds keep their owner)" in page and "Owner monthly round" in page
    assert "Owner monthly past round" not in page
    done = admin.post(url, data={"csrf_token": admin.csrf}, follow_redirects=True).get_data(as_text=True)
    assert ("Seriesco now owns this series and 1 round of it still to come (past rounds keep their owner); "
            "Owner stays on as a co-organiser.") in done
    assert _owner_and_co_organisers(series) == (series_co.id, [owner.id])
    assert _owner_and_co_organisers(world["round"]) == (series_co.id, [])
    assert _owner_and_co_organisers(past) == (owner.id, [])
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "series.handed_over"))
    assert (entry.organiser_id, entry.subject_type, entry.subject_id) == (world["admin"].id, "series", series.id)
    assert entry.summary.endswith(f"to seriesco@example.com; rounds to come: {world['round'].id}")
    previous = _log_in(app, owner)  # a co-organiser of the series now: its rounds, past and to come, stay open to them
    for url in (f"/series/{series.id}", f"/events/{world['round'].id}", f"/events/{past.id}"):
        assert previous.get(url).status_code == 200, url


#: the read of an event's co-organisers that a handover checks its target against
CO_ORGANISERS_READ = re.compile(r"^SELECT organiser\..* FROM organiser, event_co_organiser\s+WHERE", re.DOTALL)


def test_two_handovers_at_once_apply_one_and_refuse_the_other(app, world):
    """The owner's two tabs hand the event to two co-organisers at the same moment. The event's row lock lets one through
    and checks the other against the new owner; without it both read the old owner and clash (a 500, or two owners)."""
    event, owner, targets = world["event"], world["owner"], (world["event_co"], world["series_co"])
    event.co_organisers.append(world["series_co"])
    db.session.commit()
    tabs = [_log_in(app, owner) for _ in targets]
    start, read = threading.Barrier(2), threading.Barrier(2)
    statuses = []

    def hand_over(tab, url):
        start.wait()
        statuses.append(tab.post(url, data={"csrf_token": tab.csrf}).status_code)

    urls = [_handover_url(world, "event", target) for target in targets]
    threads = [threading.Thread(target=hand_over, args=pair) for pair in zip(tabs, urls)]
    run_threads_listening(threads, holding_after(CO_ORGANISERS_READ.match, read))
    assert statuses == [302, 302]  # one done, one refused: both back on the event's page
    db.session.expire_all()
    new_owner, co_organisers = _owner_and_co_organisers(event)
    assert new_owner in {target.id for target in targets}
    assert co_organisers == sorted([owner.id, *(target.id for target in targets if target.id != new_owner)])
    handed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "event.handed_over")).all()
    assert len(handed) == 1


def test_a_co_organiser_cannot_hand_over_and_a_viewer_gets_403(app, world):
    event, other = world["event"], world["other"]
    event.co_organisers.append(other)
    db.session.commit()
    url = _handover_url(world, "event", other)
    event_co = _log_in(app, world["event_co"])
    assert "Make owner" not in event_co.get(f"/events/{event.id}").get_data(as_text=True)
    for response in (event_co.get(url, follow_redirects=True),
                     event_co.post(url, data={"csrf_token": event_co.csrf}, follow_redirects=True)):
        assert "Only the owner or an admin may hand this over." in response.get_data(as_text=True)
    viewer = _log_in(app, world["viewer"])
    assert "Make owner" not in viewer.get(f"/events/{event.id}").get_data(as_text=True)
    assert viewer.post(url, data={"csrf_token": viewer.csrf}).status_code == 403
    assert _owner_and_co_organisers(event) == (world["owner"].id, sorted([world["event_co"].id, other.id]))
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "event.handed_over")) is None


def test_a_viewer_a_deactivated_organiser_or_a_non_co_organiser_cannot_become_the_owner(app, world):
    event, owner, viewer, event_co = world["event"], world["owner"], world["viewer"], world["event_co"]
    event.co_organisers.append(viewer)  # made a viewer after being added, say
    db.session.commit()
    client = _log_in(app, owner)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f'href="{_handover_url(world, "event", viewer)}"' not in page
    assert f'href="{_handover_url(world, "event", event_co)}"' in page
    event_co.is_active = False
    db.session.commit()
    refusals = {viewer: "Vic Viewer is a viewer, and viewers cannot own events or series.",
                event_co: "Eventco is deactivated and cannot become the owner.",
                world["other"]: "Only a current co-organiser can become the owner."}
    for target, refusal in refusals.items():
        response = client.post(_handover_url(world, "event", target), data={"csrf_token": client.csrf})
        assert response.status_code == 302 and response.location.endswith(f"/events/{event.id}")
        assert refusal in client.get(response.location).get_data(as_text=True)
    assert _owner_and_co_organisers(event) == (owner.id, sorted([event_co.id, viewer.id]))
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "event.handed_over")) is None
