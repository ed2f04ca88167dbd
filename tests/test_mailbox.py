"""The Demo mailbox: shown only on demo installations, never cached, HTML in a sandbox, dates in the event's timezone."""

import re
from email.message import EmailMessage
from email.utils import make_msgid, parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from planner.config import DEMO_MARKER
from planner.extensions import db
from planner.mail import MailboxTransport
from planner.services.accounts import create_organiser
from tests.helpers import PASSWORD, csrf_from, make_app


def send_invitations(client, make_person, make_event, organiser, timezone="Europe/Berlin"):
    """Invite two people to a new event and return the names of the stored mails, newest first."""
    for number in range(2):
        make_person(department=("Sales", "Engineering")[number])
    event = make_event(organiser=organiser, capacity=2, timezone=timezone)
    token = csrf_from(client.get(f"/events/{event.id}").data)
    assert client.post(f"/events/{event.id}/propose", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/events/{event.id}/send", data={"csrf_token": token}).status_code == 302
    names = [mail.name for mail in MailboxTransport(client.application.config["MAIL_MAILBOX_DIR"]).list()]
    assert len(names) == 2
    return names


def stored_date(app, name):
    raw = MailboxTransport(app.config["MAIL_MAILBOX_DIR"]).read(name)
    header = re.search(rb"^Date: (.+?)\r?$", raw, re.MULTILINE).group(1).decode()
    return parsedate_to_datetime(header)


def shown(moment, zone):
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.strftime('%d %b %Y, %H:%M')} {local.tzname()}"


def test_an_installation_without_mail_settings_does_not_show_the_mailbox(app, client, login, make_person, make_event):
    organiser = login()
    name = send_invitations(client, make_person, make_event, organiser)[0]
    assert client.get("/mailbox/").status_code == 404
    assert client.get(f"/mailbox/{name}").status_code == 404
    assert client.get(f"/mailbox/{name}/html").status_code == 404
    assert client.get(f"/mailbox/{name}/invite.ics").status_code == 404
    assert b"Demo mailbox" not in client.get("/events/").data


@pytest.mark.parametrize("setting", [{"DEMO_MAILBOX": True}, {"DEBUG": True}])
def test_the_mailbox_is_shown_when_configured_or_in_debug_mode(database_url, tmp_path, setting):
    app = make_app(database_url, tmp_path, **setting)
    with app.app_context():
        client = app.test_client()
        log_in_new_organiser(client)
        assert client.get("/mailbox/").status_code == 200
        assert b"Demo mailbox</a>" in client.get("/events/").data
        db.session.remove()
        db.engine.dispose()


def test_the_mailbox_is_not_shown_when_mail_is_really_sent(database_url, tmp_path):
    app = make_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", DEMO_MAILBOX=True)
    with app.app_context():
        client = app.test_client()
        log_in_new_organiser(client)
        assert client.get("/mailbox/").status_code == 404
        assert b"Demo mailbox" not in client.get("/events/").data
        db.session.remove()
        db.engine.dispose()


def log_in_new_organiser(client):
    organiser = create_organiser(db.session, "org@example.com", "Olivia Organiser", PASSWORD)
    db.session.commit()
    token = csrf_from(client.get("/auth/login").data)
    data = {"email": organiser.email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/auth/login", data=data).status_code == 302
    return organiser


def test_the_demo_command_shows_the_mailbox(app, client):
    db.drop_all()
    result = app.test_cli_runner().invoke(args=["demo", "--people", "5"])
    assert result.exit_code == 0, result.output
    assert (Path(app.instance_path) / DEMO_MARKER).is_file() and "/mailbox/" in result.output
    email, password = re.search(r"as (\S+) with password (\S+)", result.output).groups()
    token = csrf_from(client.get("/auth/login").data)
    assert client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token}).status_code == 302
    assert b"Demo mailbox</a>" in client.get("/events/").data
    assert client.get("/mailbox/").status_code == 200


def test_mailbox_pages_are_never_cached(app, client, login, make_person, make_event):
    app.config["DEMO_MAILBOX"] = True
    name = send_invitations(client, make_person, make_event, login())[0]
    for path in ("/mailbox/", f"/mailbox/{name}", f"/mailbox/{name}/html", f"/mailbox/{name}/invite.ics"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path


def test_the_html_part_is_shown_in_a_sandbox_without_scripts(app, client, login, make_person, make_event):
    app.config["DEMO_MAILBOX"] = True
    name = send_invitations(client, make_person, make_event, login())[0]
    page = client.get(f"/mailbox/{name}").data.decode()
    frame = re.search(r"<iframe[^>]*>", page).group()
    assert " sandbox " in frame and f'src="/mailbox/{name}/html"' in frame
    part = client.get(f"/mailbox/{name}/html")
    csp = part.headers["Content-Security-Policy"]
    assert part.mimetype == "text/html" and "/rsvp/" in part.data.decode() and "<a href=" in part.data.decode()
    assert csp.startswith("sandbox;") and "allow-scripts" not in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "frame-ancestors 'self'" in csp and part.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_mail_without_an_html_part_has_no_frame(app, client, login):
    app.config["DEMO_MAILBOX"] = True
    login()
    message = EmailMessage()
    message["Subject"], message["To"], message["From"] = "Plain only", "a@example.com", "planner@example.com"
    message["Message-ID"] = make_msgid(domain="planner.test")
    message.set_content("Just text.")
    MailboxTransport(app.config["MAIL_MAILBOX_DIR"]).send(message, sender="planner@example.com", recipients=["a@example.com"])
    [name] = [mail.name for mail in MailboxTransport(app.config["MAIL_MAILBOX_DIR"]).list()]
    assert "<iframe" not in client.get(f"/mailbox/{name}").data.decode()
    assert client.get(f"/mailbox/{name}/html").status_code == 404


def test_dates_are_shown_in_the_events_timezone_or_the_default_one(app, client, login, make_person, make_event):
    app.config.update(DEMO_MAILBOX=True, DEFAULT_TIMEZONE="Asia/Tokyo")
    invitations = send_invitations(client, make_person, make_event, login(), timezone="America/New_York")
    about_nothing = EmailMessage()
    about_nothing["Subject"], about_nothing["To"], about_nothing["From"] = "Hello", "a@example.com", "planner@example.com"
    about_nothing["Date"] = "Tue, 01 Dec 2026 23:30:00 -0000"
    about_nothing["Message-ID"] = make_msgid(domain="planner.test")
    about_nothing.set_content("Not about an event.")
    box = MailboxTransport(app.config["MAIL_MAILBOX_DIR"])
    box.send(about_nothing, sender="planner@example.com", recipients=["a@example.com"])
    other = next(mail.name for mail in box.list() if mail.subject == "Hello")
    index = client.get("/mailbox/").data.decode()
    for name in invitations:
        assert shown(stored_date(app, name), "America/New_York") in index
    assert "02 Dec 2026, 08:30 JST" in index and "+0000" not in index and "+00:00" not in index
    moment = stored_date(app, invitations[0])
    event_page = client.get(f"/mailbox/{invitations[0]}").data.decode()
    assert moment.astimezone(ZoneInfo("America/New_York")).strftime("%A %d %B %Y, %H:%M") in event_page
    assert "Wednesday 02 December 2026, 08:30 JST" in client.get(f"/mailbox/{other}").data.decode()
