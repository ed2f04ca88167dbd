"""The whole organiser flow in a real browser: log in, import, create, propose, send; the invitee answers."""

import pytest

from planner.extensions import db
from planner.services.accounts import create_organiser
from tests.helpers import PASSWORD, browser_log_in, rsvp_link

pytestmark = pytest.mark.browser

STAFF_CSV = "email,name,department,level\n" + "".join(
    f"p{i}@example.com,Person {i},{['Sales', 'Engineering', 'People', 'Finance'][i % 4]},{i % 5}\n" for i in range(24)
)


def test_organiser_invites_and_sees_the_answer(live_server, page, browser, tmp_path):
    with live_server.app.app_context():
        create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        db.session.commit()
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(STAFF_CSV)

    browser_log_in(page, f"{live_server.url}/events/", "olivia@example.com")
    page.get_by_role("heading", name="Events").wait_for()

    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Import a staff CSV").click()
    page.get_by_label("Staff CSV").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_text("24 new, 0 changed").wait_for()
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Imported: 24 new").wait_for()

    page.get_by_role("link", name="Events").click()
    page.get_by_role("link", name="New lunch").click()
    page.get_by_label("Title").fill("Browser lunch")
    page.get_by_label("Location").fill("Roof terrace")
    page.get_by_role("button", name="Create event").click()
    page.get_by_text("Event created").wait_for()

    page.get_by_role("button", name="Propose invitees").click()
    page.get_by_text("Proposed 8 people").wait_for()
    page.get_by_role("link", name="Send 8 invitations").click()
    page.get_by_role("heading", name="Send 8 invitations?").wait_for()
    page.get_by_role("button", name="Send 8 invitations").click()
    page.get_by_text("8 messages sent").wait_for()
    event_url = page.url

    assert len(live_server.smtp.messages) == 8
    message = live_server.smtp.messages[0].message
    invitee_email = message["To"].addresses[0].addr_spec
    invitee = browser.new_context().new_page()
    invitee.goto(live_server.url + rsvp_link(message))
    invitee.get_by_text("Your answer: not given yet").wait_for()
    invitee.get_by_role("button", name="Yes, I'll come").click()
    invitee.get_by_text("Your answer: yes, I will come").wait_for()
    invitee.context.close()

    page.goto(event_url)
    row = page.locator(f'tr[data-email="{invitee_email}"]')
    assert row.locator("td.answer").inner_text() == "yes"
    assert "yes 1" in page.locator("#answer-counts").inner_text()
