"""Creating events: kind defaults, a deadline that follows the date, clear form errors; deleting drafts; confirming the send."""

import html
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Event, EventKind, EventStatus, utcnow
from planner.services import planning
from planner.services.events import draft_for, local, with_default_deadline
from tests.helpers import csrf_from


def days_from_today(days: int, at: str = ""):
    """A form value days after the day the request is made, read when the form is sent (a run past midnight stays right)."""
    return lambda: (date.today() + timedelta(days=days)).isoformat() + at


def event_form(client, **changes):
    page = client.get("/events/new?kind=lunch")
    day = date.today() + timedelta(days=10)
    data = {
        "csrf_token": csrf_from(page.data),
        "kind": "lunch",
        "title": "Friday lunch",
        "description": "Pizza",
        "location": "Canteen",
        "day": day.isoformat(),
        "start": "12:00",
        "end": "13:00",
        "timezone": "Europe/Berlin",
        "capacity": "8",
        "rsvp_deadline": f"{(day - timedelta(days=2)).isoformat()}T17:00",
    }
    data.update({name: value() if callable(value) else value for name, value in changes.items()})
    return client.post("/events/new", data=data)


@pytest.mark.parametrize(
    "kind, start, end, seats",
    [("lunch", "12:00", "13:00", "8"), ("drinks", "17:30", "19:30", "30"), ("training", "09:00", "17:00", "20")],
)
def test_each_kind_fills_its_defaults(client, login, kind, start, end, seats):
    login()
    page = client.get(f"/events/new?kind={kind}").data.decode()
    assert f'value="{start}"' in page and f'value="{end}"' in page and f'value="{seats}"' in page


@pytest.mark.parametrize("kind", ["lunch", "drinks", "training"])
def test_default_deadline_is_tomorrow_or_later(client, login, kind):
    login()
    page = client.get(f"/events/new?kind={kind}").data.decode()
    deadline = page.split('name="rsvp_deadline" type="datetime-local" value="')[1][:10]
    assert date.fromisoformat(deadline) > date.today()


def test_the_defaults_count_from_the_events_own_today():
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # the server's 2 December is already 3 December in Berlin
    proposed = draft_for(EventKind.LUNCH, late, "Europe/Berlin")
    assert proposed.day == date(2026, 12, 10)
    lunch = replace(proposed, day=date(2026, 12, 5), rsvp_deadline=None)
    assert with_default_deadline(lunch, late, None).rsvp_deadline == datetime(2026, 12, 4, 17), "never before Berlin's tomorrow"


def test_create_event_stores_utc_and_keeps_the_timezone(client, login):
    login()
    response = event_form(client)
    assert response.status_code == 302
    event = db.session.scalar(select(Event))
    assert event.timezone == "Europe/Berlin" and event.starts_at.tzinfo is not None
    assert event.starts_at.astimezone().utcoffset() is not None
    local = event.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (12, 0)
    assert event.uid.endswith("@planner.example.com") or "@" in event.uid
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"end": "11:00"}, "The event must end after it starts."),
        ({"day": days_from_today(-1)}, "The event must start in the future."),
        ({"capacity": "0"}, "The capacity must be at least 1."),
        ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
        ({"title": ""}, "This field is required."),
        ({"rsvp_deadline": days_from_today(11, "T09:00")}, "deadline must be before"),
        ({"day": "not a date"}, "Not a valid date value."),
        ({"rsvp_deadline": days_from_today(-1, "T09:00")}, "deadline has already passed"),
    ],
)
def test_bad_input_gets_a_clear_message_and_creates_nothing(client, login, changes, message):
    login()
    response = event_form(client, **changes)
    assert response.status_code == 400
    assert message in response.data.decode()
    assert db.session.scalar(select(func.count(Event.id))) == 0


# --- the kind's defaults and a deadline that follows the date -------------------------------------


def shown_form(client, kind="lunch") -> dict:
    """Return the fields of the new-event form as the server filled them for kind."""
    page = client.get(f"/events/new?kind={kind}").data.decode()
    fields = dict(re.findall(r'<input [^>]*name="(\w+)"[^>]*value="([^"]*)"', page))
    fields["csrf_token"] = csrf_from(page.encode())
    fields["kind"] = kind
    return fields


def created() -> Event:
    return db.session.scalar(select(Event))


def test_a_deadline_left_as_proposed_follows_a_new_date(client, login):
    login()
    data = shown_form(client, "training")
    later = date.fromisoformat(data["day"]) + timedelta(days=30)
    assert data["rsvp_deadline"] == data["shown_deadline"]
    response = client.post("/events/new", data={**data, "day": later.isoformat()})
    assert response.status_code == 302
    deadline = local(created().rsvp_deadline_at, created())
    assert deadline.date() == later - timedelta(days=7) and (deadline.hour, deadline.minute) == (17, 0)


def test_an_empty_deadline_gets_the_kinds_default_for_the_date(client, login):
    login()
    data = shown_form(client, "drinks")
    day = date.today() + timedelta(days=20)
    assert client.post("/events/new", data={**data, "day": day.isoformat(), "rsvp_deadline": ""}).status_code == 302
    assert local(created().rsvp_deadline_at, created()).date() == day - timedelta(days=3)


def test_a_deadline_typed_by_hand_is_kept_when_the_date_moves(client, login):
    login()
    data = shown_form(client, "lunch")
    later = date.fromisoformat(data["day"]) + timedelta(days=14)
    chosen = f"{(date.today() + timedelta(days=3)).isoformat()}T10:00"
    assert client.post("/events/new", data={**data, "day": later.isoformat(), "rsvp_deadline": chosen}).status_code == 302
    assert local(created().rsvp_deadline_at, created()).strftime("%Y-%m-%dT%H:%M") == chosen


def test_the_form_carries_each_kinds_defaults_for_its_script(client, login):
    login()
    page = client.get("/events/new?kind=lunch").data.decode()
    kinds = json.loads(html.unescape(re.search(r"data-kinds='([^']*)'", page).group(1)))
    assert kinds["training"] == {"title": "Training day", "start": "09:00", "end": "17:00", "capacity": 20, "deadline_days": 7}
    assert '<script src="/static/new_event.js" defer></script>' in page
    script = client.get("/static/new_event.js")
    assert script.status_code == 200 and "rsvp_deadline" in script.data.decode()


def test_the_default_timezone_comes_from_the_config(app, client, login):
    login()
    app.config["DEFAULT_TIMEZONE"] = "Asia/Kolkata"
    assert 'value="Asia/Kolkata"' in client.get("/events/new").data.decode()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"title": "Lunch\r\nBcc: all@example.com"}, "The title contains a line break"),
        ({"title": "Lunch\x07"}, "The title contains the control character U+0007"),
        ({"location": "Roof\nterrace"}, "The location contains a line break"),
        ({"description": "Bring\x00 food"}, "The description contains a NUL byte"),
    ],
)
def test_control_characters_are_refused_at_the_door(client, login, changes, message):
    login()
    response = event_form(client, **changes)
    assert response.status_code == 400 and message in response.data.decode()
    assert db.session.scalar(select(func.count(Event.id))) == 0


def test_a_description_may_have_several_lines(client, login):
    login()
    assert event_form(client, description="Pizza\r\nand salad").status_code == 302
    assert created().description == "Pizza\r\nand salad"


# --- deleting drafts and confirming the send ---------------------------------------------------------


def test_a_draft_is_deleted_after_a_confirmation(client, login, make_event, make_person):
    organiser = login()
    event = make_event(organiser=organiser)
    person = make_person()
    planning.add_person(db.session, event, person, utcnow(), lookback_days=180)
    db.session.commit()
    page = client.get(f"/events/{event.id}/delete")
    assert page.status_code == 200 and "Delete the draft" in page.data.decode()
    assert client.post(f"/events/{event.id}/delete").status_code == 400
    assert db.session.scalar(select(func.count(Event.id))) == 1
    response = client.post(f"/events/{event.id}/delete", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/events/")
    assert db.session.scalar(select(func.count(Event.id))) == 0
    assert "Draft &#39;Team lunch&#39; deleted." in client.get("/events/").data.decode()


def test_only_drafts_can_be_deleted(client, login, make_event):
    organiser = login()
    event = make_event(organiser=organiser)
    event.status = EventStatus.SENT
    db.session.commit()
    token = csrf_from(client.get(f"/events/{event.id}").data)
    assert client.get(f"/events/{event.id}/delete").status_code == 302
    response = client.post(f"/events/{event.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/events/{event.id}")
    assert "Only a draft can be deleted" in client.get(response.headers["Location"]).data.decode()
    assert db.session.scalar(select(func.count(Event.id))) == 1


def test_send_asks_first_with_the_number_of_people(client, login, make_event, make_person):
    organiser = login()
    event = make_event(organiser=organiser)
    planning.add_person(db.session, event, make_person(), utcnow(), lookback_days=180)
    db.session.commit()
    detail = client.get(f"/events/{event.id}").data.decode()
    assert f'href="/events/{event.id}/send">Send 1 invitation</a>' in detail
    page = client.get(f"/events/{event.id}/send")
    assert page.status_code == 200 and "Send 1 invitation?" in page.data.decode()
    assert db.session.get(Event, event.id).status == EventStatus.DRAFT
    response = client.post(f"/events/{event.id}/send", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).status == EventStatus.SENT
    assert "1 invitation queued." in client.get(response.headers["Location"]).data.decode()


def test_send_without_a_proposal_says_what_to_do_first(client, login, make_event):
    event = make_event(organiser=login())
    response = client.get(f"/events/{event.id}/send")
    assert response.status_code == 302
    assert "Propose or add invitees before sending." in client.get(response.headers["Location"]).data.decode()
