"""The journey in a real browser: log in, a series' round planned and sent, answers from the mailed RSVP links, seating,
feedback from the mailed link, its results, the exports, the dashboard and network health; screenshots of the key pages go to tests/artifacts/screenshots/."""

import csv
import re
from datetime import timedelta
from pathlib import Path

import pytest

from planner.extensions import db
from planner.models import Event
from planner.services.accounts import create_organiser
from planner.services.feedback import feedback_opens_at
from tests.helpers import PASSWORD, browser_log_in, rsvp_link, staff

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
COMING = 6


def shot(page, name: str) -> None:
    """Save a full-page screenshot of the key page as a CI artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def feedback_link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/feedback/[A-Za-z0-9_-]+)", text).group(1)


def test_a_round_from_planning_to_feedback_and_exports(live_server, page, browser, make_person, tmp_path):
    app = live_server.app
    with app.app_context():
        create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        db.session.commit()
        staff(make_person, 16)

    browser_log_in(page, f"{live_server.url}/", "olivia@example.com")
    page.get_by_role("heading", name="Dashboard").wait_for()
    shot(page, "00-dashboard")
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_role("heading", name="Events").wait_for()
    shot(page, "01-events")

    page.get_by_role("link", name="Series", exact=True).click()
    page.get_by_role("link", name="New series").click()
    page.get_by_label("Title").fill("Weekly mix lunch")
    page.get_by_label("Repeats").select_option("weekly")
    page.get_by_role("button", name="Create series").click()
    page.get_by_text("Series created").wait_for()
    page.get_by_role("button", name="Plan due rounds now").click()
    page.get_by_text(re.compile(r"Planned \d+ rounds?")).wait_for()
    shot(page, "02-series")

    page.locator("td a[href*='/events/']").first.click()
    page.get_by_role("link", name=re.compile(r"^Send \d+ invitations$")).click()
    page.get_by_role("button", name=re.compile(r"^Yes, send \d+ invitations$")).click()
    page.get_by_text(re.compile(r"\d+ messages sent")).wait_for()
    event_url = page.url
    shot(page, "03-round-sent")

    invitations = list(live_server.smtp.messages)
    assert len(invitations) == 8
    invitee = browser.new_context().new_page()
    for received in invitations[:COMING]:
        invitee.goto(live_server.url + rsvp_link(received.message))
        invitee.get_by_role("button", name="Yes, I'll come").click()
        invitee.get_by_text("Your answer: yes, I will come").wait_for()
    shot(invitee, "04-rsvp")

    page.goto(event_url + "/seating")
    page.get_by_role("button", name="Make the plan").click()
    page.get_by_text(f"Seated {COMING} people").wait_for()
    page.get_by_role("button", name="Publish to attendees").click()
    page.get_by_text("published", exact=False).first.wait_for()
    shot(page, "05-seating")

    live_server.smtp.clear()
    with app.app_context():
        event = db.session.get(Event, int(event_url.rstrip("/").rsplit("/", 1)[1]))
        moment = feedback_opens_at(event) + timedelta(hours=9)
        result = app.test_cli_runner().invoke(args=["feedback", "send", "--now", moment.isoformat()])
    assert f"{COMING} feedback requests" in result.output
    first = invitations[0].message["To"].addresses[0].addr_spec
    mail = next(r.message for r in live_server.smtp.messages if r.message["To"].addresses[0].addr_spec == first)
    invitee.goto(live_server.url + feedback_link(mail))
    invitee.get_by_role("radio", name="5").check()
    invitee.get_by_role("checkbox").first.check()
    invitee.get_by_label("Comment (optional)").fill("Met two people from Sales for the first time.")
    shot(invitee, "06-feedback-form")
    invitee.get_by_role("button", name="Save feedback").click()
    invitee.get_by_text("Thank you, your feedback is saved").wait_for()
    invitee.context.close()

    page.goto(event_url)
    page.get_by_role("link", name="Feedback").click()
    page.get_by_text("average rating 5.00 of 5", exact=False).wait_for()
    page.get_by_text("Met two people from Sales for the first time.").wait_for()
    shot(page, "07-feedback-results")

    page.goto(event_url)
    page.get_by_role("link", name="Exports").click()
    shot(page, "08-exports")
    with page.expect_download() as download:
        page.get_by_role("link", name="Attendee list (CSV)").click()
    assert download.value.suggested_filename.endswith("-attendees.csv")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    rows = list(csv.reader(saved.open(encoding="utf-8")))
    assert rows[0] == ["Name", "Email", "Department", "Level"] and len(rows) == COMING + 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Seating plan (CSV)").click()
    assert download.value.suggested_filename.endswith("-seating.csv")

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_text("Weekly mix lunch").first.wait_for()
    page.get_by_role("main").get_by_role("link", name="Network health").click()
    page.get_by_role("heading", name="Network health").wait_for()
    shot(page, "09-analytics")
