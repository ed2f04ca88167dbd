"""Creating events: kind defaults and clear form errors."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Event
from tests.helpers import csrf_from


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
    data.update(changes)
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
        ({"day": (date.today() - timedelta(days=1)).isoformat()}, "The event must start in the future."),
        ({"capacity": "0"}, "The capacity must be at least 1."),
        ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
        ({"title": ""}, "This field is required."),
        ({"rsvp_deadline": f"{(date.today() + timedelta(days=11)).isoformat()}T09:00"}, "deadline must be before"),
        ({"day": "not a date"}, "Not a valid date value."),
        ({"rsvp_deadline": f"{(date.today() - timedelta(days=1)).isoformat()}T09:00"}, "deadline has already passed"),
    ],
)
def test_bad_input_gets_a_clear_message_and_creates_nothing(client, login, changes, message):
    login()
    response = event_form(client, **changes)
    assert response.status_code == 400
    assert message in response.data.decode()
    assert db.session.scalar(select(func.count(Event.id))) == 0
