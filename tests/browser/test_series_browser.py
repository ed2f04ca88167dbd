"""A monthly series in a real browser: create it, review and send a round, answer, and see the next round's turns."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from planner.extensions import db
from planner.models import Event, Person
from planner.services.accounts import create_organiser
from tests.helpers import PASSWORD, browser_log_in, rsvp_link

pytestmark = pytest.mark.browser

DEPARTMENTS = ["Sales", "Engineering", "People", "Finance"]


def test_a_monthly_series_gives_everyone_a_turn(live_server, page, browser):
    with live_server.app.app_context():
        create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        db.session.add_all(
            Person(email=f"p{i}@example.com", name=f"Person {i:02}", department=DEPARTMENTS[i % 4], level=i % 5)
            for i in range(24)
        )
        db.session.commit()

    browser_log_in(page, f"{live_server.url}/series/", "olivia@example.com")
    page.get_by_role("link", name="New series").click()
    page.locator("#title").fill("Monthly mixer lunch")
    page.locator("#capacity").fill("4")
    page.locator("#frequency").select_option("monthly_weekday")
    page.locator("#nth").select_option("1")
    page.locator("#weekday").select_option("1")
    page.locator("#starts_on").fill((date.today() + timedelta(days=2)).isoformat())
    page.locator("#plan_days_ahead").fill("70")
    page.get_by_role("button", name="Create series").click()
    page.get_by_text("Every month on the first Tuesday").wait_for()

    page.get_by_role("button", name="Plan due rounds now").click()
    page.locator("p.flash.success", has_text="Planned").wait_for()
    rounds = page.locator("table.list").first.locator("tbody tr")
    assert rounds.count() >= 2
    series_url = page.url

    rounds.nth(0).get_by_role("link").click()
    page.get_by_text("A round of the series").wait_for()
    page.get_by_role("link", name="Send 4 invitations").click()
    page.get_by_role("button", name="Send 4 invitations").click()
    page.get_by_text("4 invitations queued").wait_for()
    first_round = {message.message["To"].addresses[0].addr_spec for message in live_server.smtp.messages}
    assert len(first_round) == 4

    invitee = browser.new_context().new_page()
    invitee.goto(live_server.url + rsvp_link(live_server.smtp.messages[0].message))
    invitee.get_by_role("button", name="Yes, I'll come").click()
    invitee.get_by_text("Your answer: yes, I will come").wait_for()
    invitee.context.close()

    page.goto(series_url)
    page.get_by_text("4 of 24 people who can be invited have had a turn in this series").wait_for()
    assert "yes" in page.locator("table.list").first.locator("thead").inner_text().lower()
    page.locator("table.list").first.locator("tbody tr").nth(1).get_by_role("link").click()
    page.get_by_role("button", name="Propose again").click()
    page.get_by_text("Proposed 4 people").wait_for()
    with live_server.app.app_context():
        second = db.session.scalars(select(Event).where(Event.series_id.is_not(None)).order_by(Event.starts_at).offset(1)).first()
        proposed = {entry.person.email for entry in second.proposals}
    assert len(proposed) == 4 and proposed.isdisjoint(first_round)
    assert "never invited" in page.locator("#proposal").inner_text()
