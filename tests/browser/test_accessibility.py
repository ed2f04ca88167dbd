"""Every organiser page, the login, RSVP, feedback, feed and error pages pass axe-core's WCAG 2.1 A and AA rules.

axe-core comes from the npm registry (tests/node: `npm ci --prefix tests/node`). It is injected with
Playwright's add_init_script, which runs through the DevTools protocol and is not subject to the page's
Content-Security-Policy, so the app keeps its production CSP (script-src 'self') in these tests too.
"""

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from planner.extensions import db
from planner.models import Answer, Series, utcnow
from planner.services.feedback import feedback_opens_at
from planner.services.seating import SeatingSettings, make_plan, publish_plan
from tests.helpers import browser_log_in, csrf_from, log_in, propose_and_send, rsvp_link, staff

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page as it is; return its violations (rule, help and up to five offending nodes)."""
    page.wait_for_function("() => window.axe !== undefined")
    result = page.evaluate("rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})", RULES)
    return [{"id": v["id"], "help": v["help"], "nodes": [n["html"] for n in v["nodes"]][:5]} for v in result["violations"]]


@pytest.fixture
def axe_context(browser):
    """A browser context that loads axe-core into every document."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: npm ci --prefix tests/node")
    context = browser.new_context()
    context.set_default_timeout(15000)
    context.add_init_script(script=AXE.read_text(encoding="utf-8"))
    yield context
    context.close()


def series_form(token: str) -> dict:
    return {
        "csrf_token": token, "kind": "lunch", "title": "Monthly lunch", "description": "", "location": "Canteen",
        "start": "12:00", "end": "13:00", "timezone": "Europe/Berlin", "capacity": "6", "frequency": "monthly_weekday",
        "interval": "1", "weekday": "1", "nth": "1", "month_day": "1",
        "starts_on": (date.today() + timedelta(days=3)).isoformat(),
        "ends": "never", "until": "", "count": "", "deadline_hours": "48", "plan_days_ahead": "14",
        "send_mode": "review", "planning_mode": "fair",
    }


@pytest.fixture
def site(live_server, make_person, make_event):
    """An organiser with staff, a draft, a sent event with a published plan, a series, and the invitee's links."""
    app = live_server.app
    client = app.test_client()
    with app.app_context():
        organiser = log_in(client)
        people = staff(make_person, 12)
        draft = make_event(organiser=organiser, capacity=6, title="Draft lunch")
        sent = make_event(organiser=organiser, capacity=12, title="Sent lunch")
        propose_and_send(client, sent)
        for invitation in sent.invitations:
            invitation.answer = Answer.YES
        db.session.commit()
        plan = make_plan(db.session, sent, SeatingSettings(min_size=3, max_size=4), 0, 0.2)
        publish_plan(plan, utcnow())
        db.session.commit()
        page = client.get("/series/new")
        assert client.post("/series/new", data=series_form(csrf_from(page.data))).status_code == 302
        rsvp = rsvp_link(live_server.smtp.messages[0].message)
        live_server.smtp.clear()
        moment = feedback_opens_at(sent) + timedelta(hours=9)
        assert app.test_cli_runner().invoke(args=["feedback", "send", "--now", moment.isoformat()]).exit_code == 0
        text = live_server.smtp.messages[0].message.get_body(preferencelist=("plain",)).get_content()
        feedback = re.search(r"(/feedback/[A-Za-z0-9_-]+)", text).group(1)
        series_id = db.session.scalar(db.select(Series.id))
        return {
            "organiser": [
                "/events/", "/events/new", f"/events/{draft.id}", f"/events/{sent.id}", f"/events/{sent.id}/seating",
                f"/events/{sent.id}/attendance", f"/events/{sent.id}/exports/", f"/events/{sent.id}/feedback",
                "/people/", f"/people/{people[0].id}", "/series/", "/series/new", f"/series/{series_id}",
                f"/series/{series_id}/feedback", "/settings/feed", "/events/999999", "/dashboard/", "/analytics/",
                "/analytics/?days=30", "/account/notifications", f"/events/{sent.id}/questions", "/people/?q=nobody-matches",
                "/admin/",
            ],
            "public": [rsvp, f"/feeds/mine/{rsvp.rsplit('/', 1)[1]}", feedback, "/no-such-page", "/rsvp/" + "A" * 32],
        }


def check(page, url: str, found: dict) -> None:
    """Open url and keep its violations in found."""
    page.goto(url)
    assert page.url == url, f"{url} went to {page.url}"
    violations = axe_violations(page)
    if violations:
        found[url] = violations


def test_every_page_passes_wcag_21_aa(live_server, axe_context, site):
    page = axe_context.new_page()
    found: dict = {}
    check(page, f"{live_server.url}/auth/login", found)
    for url in site["public"]:
        check(page, live_server.url + url, found)
    browser_log_in(page, f"{live_server.url}/events/", "boss@example.com")
    page.get_by_role("heading", name="Events").wait_for()
    for url in site["organiser"]:
        check(page, live_server.url + url, found)
    assert found == {}


def test_axe_finds_a_violation_when_there_is_one(live_server, axe_context):
    """The check can fail: a page with an image without alt text and an unlabelled field is caught."""
    page = axe_context.new_page()
    page.goto(f"{live_server.url}/auth/login")
    page.evaluate("""() => {
        const img = document.createElement('img'); img.src = 'data:,'; document.body.appendChild(img);
        const input = document.createElement('input'); input.type = 'text'; document.body.appendChild(input);
    }""")
    assert {"image-alt", "label"} <= {v["id"] for v in axe_violations(page)}
