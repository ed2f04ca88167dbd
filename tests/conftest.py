"""Shared fixtures: an app per test on SQLite (and PostgreSQL when configured), factories, a real SMTP server."""

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from planner.extensions import db
from planner.models import EventKind, Person
from planner.services.accounts import create_organiser
from planner.services.events import EventDraft, create_event
from tests.helpers import PASSWORD, csrf_from, make_app
from tests.smtp_server import SMTPServer

POSTGRES_URL = os.environ.get("PLANNER_TEST_DATABASE_URL")


def _backends():
    postgres = pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="PLANNER_TEST_DATABASE_URL is not set"),
    )
    return ["sqlite", postgres]


@pytest.fixture(params=_backends())
def database_url(request, tmp_path):
    """A fresh empty database: a SQLite file, or the configured PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    yield POSTGRES_URL


@pytest.fixture
def app(database_url, tmp_path):
    """An application with an empty schema; its app context is pushed for the test."""
    app = make_app(database_url, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port collecting messages."""
    with SMTPServer() as server:
        yield server


@pytest.fixture
def smtp_app(database_url, tmp_path, smtp_server):
    """An application that sends mail to the test SMTP server right after each request commits."""
    app = make_app(
        database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_TIMEOUT=5,
        MAIL_SEND_AFTER_COMMIT=True,
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_organiser():
    """Create organisers: make_organiser(email=..., role=...); the first one is an admin unless a role is given."""

    def make(email="org@example.com", name="Olivia Organiser", password=PASSWORD, role=None):
        organiser = create_organiser(db.session, email, name, password, role)
        db.session.commit()
        return organiser

    return make


@pytest.fixture
def make_person():
    """Create directory entries: make_person(email, department=..., level=...)."""
    counter = iter(range(1, 10**6))

    def make(email=None, name=None, department="Engineering", level=1, **fields):
        number = next(counter)
        person = Person(
            email=email or f"person{number}@example.com",
            name=name or f"Person {number}",
            department=department,
            level=level,
            **fields,
        )
        db.session.add(person)
        db.session.commit()
        return person

    return make


@pytest.fixture
def make_event(make_organiser):
    """Create draft events: make_event(capacity=..., organiser=...)."""

    def make(organiser=None, capacity=4, title="Team lunch", days_ahead=7, timezone="Europe/Berlin", deadline=True):
        organiser = organiser or make_organiser(email=f"org{datetime.now().timestamp()}@example.com")
        day = datetime.now(ZoneInfo(timezone)).date() + timedelta(days=days_ahead)  # the event's own today
        draft = EventDraft(
            kind=EventKind.LUNCH,
            title=title,
            description="Meet colleagues",
            location="Canteen, 2nd floor",
            day=day,
            start=datetime.strptime("12:00", "%H:%M").time(),
            end=datetime.strptime("13:00", "%H:%M").time(),
            timezone=timezone,
            capacity=capacity,
            rsvp_deadline=datetime.combine(day - timedelta(days=1), datetime.min.time()) if deadline else None,
        )
        event = create_event(db.session, organiser.id, draft, "planner.test")
        db.session.commit()
        return event

    return make


@pytest.fixture
def login(client, make_organiser):
    """Log a test client in as a fresh organiser and return that organiser."""

    def do_login(organiser=None):
        organiser = organiser or make_organiser()
        page = client.get("/auth/login")
        response = client.post(
            "/auth/login",
            data={"email": organiser.email, "password": PASSWORD, "csrf_token": csrf_from(page.data)},
        )
        assert response.status_code == 302, response.data
        return organiser

    return do_login
