"""Structured logs: with LOG_FORMAT = "json" one JSON line per request and per mail outcome, never an RSVP token."""

import io
import json
import logging

import pytest

from planner.extensions import db
from tests.helpers import csrf_from, log_in, make_app, propose_and_send, sent_event, staff

PLANNER = logging.getLogger("planner")


@pytest.fixture
def json_app(database_url, tmp_path, smtp_server):
    """An app logging JSON lines into a buffer (the planner logger is put back as it was afterwards)."""
    saved = (PLANNER.handlers[:], PLANNER.level, PLANNER.propagate)
    app = make_app(database_url, tmp_path, LOG_FORMAT="json", MAIL_TRANSPORT="smtp", SMTP_HOST=smtp_server.host,
                   SMTP_PORT=smtp_server.port, MAIL_SEND_AFTER_COMMIT=True)
    app.log_buffer = io.StringIO()
    PLANNER.handlers[0].setStream(app.log_buffer)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    PLANNER.handlers, PLANNER.level, PLANNER.propagate = saved


def lines(app) -> list[dict]:
    return [json.loads(line) for line in app.log_buffer.getvalue().splitlines()]


def test_requests_and_mail_outcomes_are_json_lines_without_tokens(json_app, smtp_server, make_person, make_event):
    client, event, link = sent_event(json_app, smtp_server, make_person, make_event, 2)
    token = link.rsplit("/", 1)[1]
    page = client.get(link, headers={"X-Request-ID": "abc-123"})
    assert page.headers["X-Request-ID"] == "abc-123"
    client.post(link, data={"csrf_token": csrf_from(page.data), "answer": "yes"})
    client.get("/no/such/page/" + token)
    logged = lines(json_app)
    text = json_app.log_buffer.getvalue()
    assert token not in text
    requests = [line for line in logged if line["message"] == "request"]
    assert {"method", "path", "endpoint", "status", "duration_ms", "request_id"} <= set(requests[0])
    assert {(line["method"], line["path"], line["status"]) for line in requests} >= {
        ("POST", "/events/<int:event_id>/send", 302), ("GET", "/rsvp/<token>", 200), ("POST", "/rsvp/<token>", 303),
        ("GET", "(no route)", 404),
    }
    assert any(line["request_id"] == "abc-123" for line in requests)
    assert all(isinstance(line["duration_ms"], float | int) for line in requests)
    mails = [line for line in logged if line["logger"] == "planner.outbox"]
    assert len(mails) == 2 and {line["state"] for line in mails} == {"sent"}
    assert all(line["message_id"].startswith("<") and line["attempts"] == 1 and line["error_class"] is None for line in mails)


def test_a_failed_delivery_names_its_error_class(json_app, smtp_server, make_person, make_event):
    smtp_server.fail_next(2, 550)
    client = json_app.test_client()
    organiser = log_in(client)
    staff(make_person, 2)
    propose_and_send(client, make_event(organiser=organiser, capacity=2))
    mails = [line for line in lines(json_app) if line["logger"] == "planner.outbox"]
    assert [(line["state"], line["error_class"], line["level"]) for line in mails] == [
        ("failed", "PermanentMailError", "warning")] * 2


def test_a_bad_log_format_is_refused(database_url, tmp_path):
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of text, json"):
        make_app(database_url, tmp_path, LOG_FORMAT="xml")
