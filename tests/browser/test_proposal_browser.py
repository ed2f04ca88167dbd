"""The proposal page in a real browser: propose, read the balance picture, replace one invitee."""

from datetime import date, datetime, time, timedelta

import pytest

from planner.extensions import db
from planner.models import EventKind, Person
from planner.services.accounts import create_organiser
from planner.services.events import EventDraft, create_event
from tests.helpers import PASSWORD, browser_log_in

pytestmark = pytest.mark.browser

DEPARTMENTS = ("Sales", "Engineering", "People")
LEVELS = (0, 1)


def seed_event(app) -> int:
    """Create an organiser, three people in every department x level cell, and a lunch for four."""
    with app.app_context():
        organiser = create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        for department in DEPARTMENTS:
            for level in LEVELS:
                for i in range(3):
                    db.session.add(
                        Person(
                            email=f"{department.lower()}{level}{i}@example.com",
                            name=f"{department} L{level} No{i}",
                            department=department,
                            level=level,
                        )
                    )
        day = date.today() + timedelta(days=7)
        draft = EventDraft(
            kind=EventKind.LUNCH,
            title="Balanced lunch",
            description="",
            location="Canteen",
            day=day,
            start=time(12, 0),
            end=time(13, 0),
            timezone="Europe/Berlin",
            capacity=6,
            rsvp_deadline=datetime.combine(day - timedelta(days=1), time(9, 0)),
        )
        event = create_event(db.session, organiser.id, draft, "planner.test")
        db.session.commit()
        return event.id


def test_propose_see_the_picture_and_replace_one_invitee(live_server, page):
    event_id = seed_event(live_server.app)

    browser_log_in(page, f"{live_server.url}/events/{event_id}", "olivia@example.com")
    page.get_by_role("heading", name="Balanced lunch").wait_for()

    page.get_by_role("button", name="Propose invitees").click()
    page.get_by_text("Proposed 6 people").wait_for()
    assert page.locator("#deviation").inner_text().startswith("Deviation now 0 (best possible for 6 people: 0).")
    assert page.locator("#balance-grid svg").is_visible()
    assert page.locator("#department-bars svg rect.chosen").count() == len(DEPARTMENTS)
    assert page.locator("#level-bars svg rect.chosen").count() == len(LEVELS)
    assert page.locator("#balance-grid svg rect.pool").count() == len(DEPARTMENTS) * len(LEVELS)
    assert page.locator("#balance-grid svg rect.invited").count() == len(DEPARTMENTS) * len(LEVELS)

    rows = page.locator("#proposal tbody tr")
    assert rows.count() == 6
    first = rows.first
    gone = first.locator("td.name").inner_text()
    department, level = first.locator("td").nth(1).inner_text(), first.locator("td").nth(2).inner_text()
    first.get_by_role("button", name="Replace").click()

    page.get_by_text(f"Replaced {gone} with").wait_for()
    names = page.locator("#proposal td.name").all_inner_texts()
    assert gone not in names and len(names) == 6
    newcomer = page.locator("#proposal tr", has_text=f"in place of {gone}")
    assert newcomer.locator("td").nth(1).inner_text() == department
    assert newcomer.locator("td").nth(2).inner_text() == level
    assert newcomer.locator("td.why").inner_text() == f"never invited; in place of {gone}"
    assert "Deviation now 0 (best possible for 6 people: 0)." in page.locator("p.flash.success").inner_text()
    assert page.locator("#deviation").inner_text().startswith("Deviation now 0")
