"""Shared test flows: the app factory, logging in, sending, editing, calendar replies (test modules never import each other)."""

import re
import subprocess
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import icalendar
import pytest
import vobject
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select, text

from planner.app import create_app
from planner.balance import Candidate
from planner.extensions import db
from planner.ical import calendar_part
from planner.models import Answer, Event, EventKind, EventStatus, Invitation, Person, utcnow
from planner.services import planning
from planner.services.accounts import create_organiser
from planner.services.events import event_day, local
from planner.tokens import new_token

PASSWORD = "correct horse battery"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class PerClientFlaskClient(FlaskClient):
    """A test client that does not inherit request globals (such as the CSRF token) from other clients.

    The fixtures keep one app context pushed for the whole test so that tests can use db.session;
    requests then share that context's `g`, where Flask-WTF caches the CSRF token of the last session.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("csrf_token", None)
            g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def make_app(database_url: str, tmp_path: Path, **overrides):
    """Create an app with a fresh schema in database_url and its own instance folder."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "MAIL_MAILBOX_DIR": str(tmp_path / "mailbox"),
        "BASE_URL": "http://planner.test",
        "LOGIN_MAX_FAILURES": 5,
        **overrides,
    }
    app = create_app(config)
    app.test_client_class = PerClientFlaskClient
    with app.app_context():
        _reset_schema()
    return app


def _reset_schema():
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    db.create_all()


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


# --- organiser flows over HTTP ---------------------------------------------------------------


def propose_and_send(client, event):
    """Propose invitees for a draft event and send the invitations; return the send response."""
    page = client.get(f"/events/{event.id}")
    token = csrf_from(page.data)
    assert client.post(f"/events/{event.id}/propose", data={"csrf_token": token}).status_code == 302
    return client.post(f"/events/{event.id}/send", data={"csrf_token": token})


def staff(make_person, count=12):
    """Create count people across three departments and four levels."""
    departments = ["Sales", "Engineering", "People"]
    return [make_person(department=departments[i % 3], level=i % 4, name=f"Staff {i}") for i in range(count)]


def sent_event(smtp_app, smtp_server, make_person, make_event, count):
    """Invite count people to a new event over SMTP; return the organiser's client, the event and one RSVP link."""
    client = smtp_app.test_client()
    organiser = log_in(client)
    staff(make_person, count)
    event = make_event(organiser=organiser, capacity=count)
    propose_and_send(client, event)
    return client, event, rsvp_link(smtp_server.messages[0].message)


def marked_sent(make_event, kind=EventKind.LUNCH, **fields) -> Event:
    """Return a new event of that kind marked as sent, without invitations or mail."""
    event = make_event(**fields)
    event.kind, event.status, event.sent_at = kind, EventStatus.SENT, utcnow()
    db.session.commit()
    return event


def invite_with_token(event, person, answer=Answer.PENDING, **fields) -> str:
    """Invite a person straight into the database with an answer (no mail); return the RSVP token."""
    token, token_hash = new_token()
    db.session.add(Invitation(event=event, person=person, token_hash=token_hash, answer=answer, **fields))
    db.session.commit()
    return token


def log_in(client):
    """Create an organiser and log the client in (for apps other than the default fixture's)."""
    organiser = create_organiser(db.session, "boss@example.com", "Bea Boss", PASSWORD)
    db.session.commit()
    page = client.get("/auth/login")
    client.post("/auth/login", data={"email": organiser.email, "password": PASSWORD, "csrf_token": csrf_from(page.data)})
    return organiser


def calendar_of(message):
    """Return the (method= parameter, raw bytes) of a mail's text/calendar part."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return part.get_param("method"), part.get_payload(decode=True)


def form_values(event: Event, **changes) -> dict:
    """Return the edit form's fields for an event, with changes applied."""
    starts, ends = local(event.starts_at, event), local(event.ends_at, event)
    deadline = local(event.rsvp_deadline_at, event)
    values = {
        "kind": event.kind, "title": event.title, "description": event.description, "location": event.location,
        "day": starts.strftime("%Y-%m-%d"), "start": starts.strftime("%H:%M"), "end": ends.strftime("%H:%M"),
        "timezone": event.timezone, "capacity": str(event.capacity),
        "rsvp_deadline": deadline.strftime("%Y-%m-%dT%H:%M") if deadline else "",
    }
    values.update(changes)
    return values


def edit(client, event, **changes):
    """Post the edit form with changes; return the preview response and the posted data."""
    page = client.get(f"/events/{event.id}/edit")
    assert page.status_code == 200
    data = {**form_values(event, **changes), "csrf_token": csrf_from(page.data)}
    preview = client.post(f"/events/{event.id}/edit", data=data)
    return preview, data


# --- calendars: checkers and a calendar client's reply ------------------------------------------


SYSTEM_PYTHON = Path("/usr/bin/python3")
LIBICAL_CHECK = Path(__file__).with_name("libical_check.py")


def libical_check(ics: bytes) -> subprocess.CompletedProcess:
    """Run libical's iTIP restriction check on ics under Debian's Python; skip when it is not installed."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip("libical check needs Debian's /usr/bin/python3 with python3-gi and gir1.2-ical-3.0")
    result = subprocess.run([SYSTEM_PYTHON, LIBICAL_CHECK], input=ics, capture_output=True, timeout=60)
    if result.returncode == 3:
        pytest.skip(f"libical binding not installed (apt install gir1.2-ical-3.0 python3-gi): {result.stdout!r}")
    return result


def client_reply(request_raw: bytes, partstat="ACCEPTED", comment=None, *, sequence=None, attendee=None,
                 exchange=False, uid=None) -> bytes:
    """Turn a received invitation into the REPLY mail a calendar client sends back to the ORGANIZER."""
    request = icalendar.Calendar.from_ical(calendar_of(parse_mail(request_raw))[1])
    invited = request.walk("VEVENT")[0]
    organizer = str(invited["ORGANIZER"])[len("mailto:"):]
    me = attendee or str(invited["ATTENDEE"])[len("mailto:"):]
    reply = icalendar.Calendar()
    reply.add("prodid", "-//Test Client//EN")
    reply.add("version", "2.0")
    reply.add("method", "REPLY")
    for zone in request.walk("VTIMEZONE"):
        reply.add_component(zone)
    answer = icalendar.Event()
    for name in ("UID", "DTSTART", "DTEND", "SEQUENCE"):
        answer[name] = invited[name]
    answer.add("dtstamp", datetime.now(UTC))
    answer.add("summary", f"Accepted: {invited['SUMMARY']}" if exchange else str(invited["SUMMARY"]))
    if not exchange:
        answer["ORGANIZER"] = invited["ORGANIZER"]
    address = icalendar.vCalAddress(f"{'MAILTO' if exchange else 'mailto'}:{me}")
    address.params["PARTSTAT"] = partstat
    answer.add("attendee", address)
    if comment:
        answer.add("comment", comment)
    if sequence is not None:
        answer["SEQUENCE"] = sequence
    if uid is not None:
        answer["UID"] = uid
    reply.add_component(answer)
    ics = reply.to_ical()
    if exchange:
        ics = ics.replace(b"Europe/Berlin", b"W. Europe Standard Time")
    message = EmailMessage()
    message["From"] = me
    message["To"] = organizer
    message["Subject"] = f"{partstat.title()}: {invited['SUMMARY']}"
    message["Message-ID"] = f"<reply-{datetime.now().timestamp()}@client.test>"
    message.set_content(partstat.title())
    message.make_alternative()
    message.attach(calendar_part(ics, "REPLY"))
    return message.as_bytes(policy=policy.SMTP)


def ingest_cli(app, raw: bytes, *args: str):
    """Run `flask mail ingest -` with raw on standard input; return (exit code, output)."""
    result = app.test_cli_runner().invoke(args=["mail", "ingest", "-", *args], input=raw)
    db.session.expire_all()
    return result.exit_code, result.output


def assert_conformant(message, method: str, sequence: int):
    """Our own wire rules, vobject's validation and libical's iTIP restriction check."""
    param, ics = calendar_of(message)
    calendar = icalendar.Calendar.from_ical(ics)
    assert param == method == str(calendar["METHOD"])
    lines = ics.split(b"\r\n")
    assert b"\n" not in ics.replace(b"\r\n", b""), "CRLF line endings only"
    assert all(len(line) <= 75 for line in lines), "folded at 75 octets"
    assert not any(re.match(rb"^[A-Z-]+(;[^:]*)?:$", line) for line in lines), "no empty TEXT value"
    vevent = calendar.walk("VEVENT")[0]
    assert vevent["SEQUENCE"] == sequence
    for name in ("ORGANIZER", "ATTENDEE"):
        assert str(vevent[name]).startswith("mailto:")
    unfolded = ics.replace(b"\r\n ", b"").decode()
    for name in ("ORGANIZER", "ATTENDEE"):
        common_name = vevent[name].params["CN"]
        wire = common_name.replace("^", "^^").replace('"', "^'")  # RFC 6868 escapes
        allowed = [f'CN="{wire}"'] + ([] if re.search(r"[,;:]", common_name) else [f"CN={wire}"])
        assert any(form in unfolded for form in allowed), f"{name} CN must be quoted when it holds , ; or :"
    zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert {str(vevent[p].params["TZID"]) for p in ("DTSTART", "DTEND") if "TZID" in vevent[p].params} <= zones
    assert vobject.readOne(ics.decode(), validate=True).validate(raiseException=True)
    result = libical_check(ics)
    assert (result.returncode, result.stdout.strip()) == (0, b"ok"), result.stdout.decode()
    return vevent


def readdressed(raw: bytes, address: str) -> bytes:
    """Return a message with its To: header replaced (as if sent to that reply address)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    del message["To"]
    message["To"] = address
    return message.as_bytes(policy=policy.compat32)


@contextmanager
def statements():
    """Collect the SQL statements run inside the block, from an empty session and no cached user, as a real request does."""
    db.session.expunge_all()
    g.pop("_login_user", None)
    executed = []

    def record(conn, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    sqlalchemy_event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        sqlalchemy_event.remove(db.engine, "before_cursor_execute", record)


def reference_pool(event: Event, now: datetime, kept=()) -> list[Candidate]:
    """An event's pool built in Python from the full records, by id: who can come minus the excluded, plus the kept."""
    day, history = event_day(event), planning.invitation_history(db.session, now, 180)
    excluded = planning.excluded_ids(db.session, event)
    people = sorted(db.session.scalars(select(Person)), key=lambda person: person.id)
    chosen = [p for p in people if (planning.unavailability(p, day) is None and p.id not in excluded) or p.id in set(kept)]
    return [Candidate(p.id, p.department, p.level, *((history[p.id].recent_invites, history[p.id].last_invited)
                                                     if p.id in history else ())) for p in chosen]


def run_threads_listening(threads, listener) -> None:
    """Run the threads to their end with listener on the engine's after_cursor_execute, removed whatever happens."""
    sqlalchemy_event.listen(db.engine, "after_cursor_execute", listener)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sqlalchemy_event.remove(db.engine, "after_cursor_execute", listener)


def holding_after(matches, barrier: threading.Barrier):
    """A statement listener for run_threads_listening: a thread that ran a statement `matches` accepts waits until the
    other threads have run one too, or 2 s when they cannot (a row lock keeps them out, which the race tests look for)."""

    def hold(conn, cursor, statement, parameters, context, executemany):
        if matches(statement):
            try:
                barrier.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass

    return hold
