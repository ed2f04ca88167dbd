"""Small helpers shared by the tests."""

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

PASSWORD = "correct horse battery"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def csrf_from(html: bytes) -> str:
    """Return the CSRF token in a rendered page."""
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        rb'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1).decode()


def parse_mail(raw: bytes):
    """Parse raw RFC 5322 bytes with the modern email API."""
    return BytesParser(policy=policy.default).parsebytes(raw)


def rsvp_link(message) -> str:
    """Return the RSVP path found in a mail's plain-text body."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://[^/\s]+(/rsvp/[A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


def browser_log_in(page, url: str, email: str) -> None:
    """Log in through the login form that url redirects to, in a Playwright page."""
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
