"""What a person sees in a real browser: pages that fit a phone, and a new-event form that follows the kind and the date."""

from datetime import date, datetime, time, timedelta

import pytest

from planner.extensions import db
from planner.models import (
    Answer,
    Event,
    EventKind,
    EventStatus,
    Invitation,
    Person,
    utcnow,
)
from planner.services import seating
from planner.services.accounts import create_organiser
from planner.services.events import EventDraft, create_event, local
from planner.services.seating import SeatingSettings
from planner.tokens import new_token
from tests.helpers import PASSWORD, browser_log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DEPARTMENTS = ("Sales", "Engineering", "People operations", "Finance")


def seed_seated_event(app) -> int:
    """An organiser, 16 people with long names and addresses who said yes, and a sent event with a seating plan."""
    with app.app_context():
        organiser = create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        day = date.today() + timedelta(days=7)
        draft = EventDraft(EventKind.LUNCH, "Quarterly cross-team lunch", "", "Canteen, second floor, east wing", day,
                           time(12, 0), time(13, 0), "Europe/Berlin", 16, datetime.combine(day - timedelta(days=1), time(9, 0)))
        event = create_event(db.session, organiser.id, draft, "planner.test")
        event.status, event.sent_at = EventStatus.SENT, utcnow()
        for i in range(16):
            person = Person(email=f"firstname.lastname.number{i}@subsidiary.example.com", name=f"Maximiliane Mustermann-Lüdenscheid {i}",
                            department=DEPARTMENTS[i % 4], level=i % 5)
            db.session.add(Invitation(event=event, person=person, token_hash=new_token()[1], answer=Answer.YES,
                                      comment="Vegetarian, please; I will be a little late"))
        db.session.flush()
        seating.make_plan(db.session, event, SeatingSettings(), seed=0, seconds=0.2)
        db.session.commit()
        return event.id


def test_organiser_pages_fit_a_phone(live_server, browser, tmp_path):
    event_id = seed_seated_event(live_server.app)
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15000)
    page = context.new_page()
    browser_log_in(page, f"{live_server.url}/events/{event_id}", "olivia@example.com")
    page.get_by_role("heading", name="Quarterly cross-team lunch").wait_for()
    for name, path in [("event", f"/events/{event_id}"), ("people", "/people/"), ("seating", f"/events/{event_id}/seating"),
                       ("new-event", "/events/new")]:
        page.goto(live_server.url + path)
        page.screenshot(path=str(tmp_path / f"{name}-390.png"), full_page=True)
        widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (name, widths)
    page.goto(f"{live_server.url}/events/{event_id}")
    answers = page.locator("#answers")
    assert answers.evaluate("table => table.scrollWidth > table.clientWidth"), "the wide table scrolls inside its own box"
    context.close()


def test_the_kind_fills_its_defaults_and_the_deadline_follows_the_date(live_server, page):
    with live_server.app.app_context():
        create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        db.session.commit()
    browser_log_in(page, f"{live_server.url}/events/new?kind=lunch", "olivia@example.com")
    page.get_by_role("heading", name="New event").wait_for()
    page.get_by_label("Kind").select_option("training")
    assert page.get_by_label("Title").input_value() == "Training day"
    assert (page.get_by_label("Starts").input_value(), page.get_by_label("Ends").input_value()) == ("09:00", "17:00")
    assert page.get_by_label("Seats").input_value() == "20"
    day = date.today() + timedelta(days=40)
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Date").dispatch_event("change")
    assert page.get_by_label("Answer by").input_value() == f"{(day - timedelta(days=7)).isoformat()}T17:00"

    page.get_by_label("Title").fill("Security training")
    page.get_by_label("Kind").select_option("drinks")
    assert page.get_by_label("Title").input_value() == "Security training", "a title typed by hand stays"
    assert page.get_by_label("Seats").input_value() == "30"
    assert page.get_by_label("Answer by").input_value() == f"{(day - timedelta(days=3)).isoformat()}T17:00"
    page.get_by_role("button", name="Create event").click()
    page.get_by_text("Event created").wait_for()
    with live_server.app.app_context():
        event = db.session.query(Event).one()
        assert (event.kind, event.title, event.capacity) == (EventKind.DRINKS, "Security training", 30)
        assert local(event.rsvp_deadline_at, event).date() == day - timedelta(days=3)
