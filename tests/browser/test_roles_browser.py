"""A viewer's pages in a real browser: they read an event but see no button that would change it; an admin sees them."""

from datetime import date, time, timedelta

import pytest

from planner.extensions import db
from planner.models import EventKind, OrganiserRole, Person
from planner.services.accounts import create_organiser
from planner.services.events import EventDraft, create_event
from tests.helpers import PASSWORD, browser_log_in

pytestmark = pytest.mark.browser


def test_a_viewer_sees_the_event_without_its_buttons(live_server, browser):
    with live_server.app.app_context():
        admin = create_organiser(db.session, "ada@example.com", "Ada Admin", PASSWORD)
        create_organiser(db.session, "vic@example.com", "Vic Viewer", PASSWORD, OrganiserRole.VIEWER)
        db.session.add_all([Person(email=f"p{i}@example.com", name=f"Person {i}", department=["Sales", "People"][i % 2],
                                   level=i % 3) for i in range(6)])
        day = date.today() + timedelta(days=9)
        event = create_event(db.session, admin.id, EventDraft(
            kind=EventKind.LUNCH, title="Viewer lunch", description="", location="Canteen", day=day, start=time(12),
            end=time(13), timezone="Europe/Berlin", capacity=4, rsvp_deadline=None), "planner.test")
        db.session.commit()
        url = f"{live_server.url}/events/{event.id}"
    for email, buttons in (("ada@example.com", True), ("vic@example.com", False)):
        page = browser.new_context().new_page()
        browser_log_in(page, url, email)
        page.get_by_role("heading", name="Viewer lunch").wait_for()
        page.wait_for_load_state("load")  # the stylesheet hides a viewer's buttons: visibility means something once it applies
        assert page.get_by_role("button", name="Propose invitees").is_visible() is buttons
        assert page.get_by_role("link", name="Delete draft").is_visible() is buttons
        assert page.get_by_role("link", name="Admin").is_visible() is buttons
        if not buttons:
            assert page.locator("main button:visible, main a.button:visible").count() == 0
            page.goto(f"{live_server.url}/dashboard/")
            page.get_by_role("heading", name="Dashboard").wait_for()
            assert page.get_by_text("Viewer lunch").first.is_visible()
        page.context.close()
