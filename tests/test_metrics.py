"""Prometheus metrics: off by default, behind a bearer token, outbox figures from the database, nothing secret shown."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from planner.extensions import db
from planner.models import MailState, OutgoingMail
from tests.helpers import client_reply, csrf_from, ingest_cli, make_app, sent_event

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def metrics_app(database_url, tmp_path, smtp_server):
    app = make_app(database_url, tmp_path, METRICS_ENABLED=True, METRICS_TOKEN=TOKEN, MAIL_TRANSPORT="smtp",
                   SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, MAIL_SEND_AFTER_COMMIT=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def scrape(app) -> dict:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert TOKEN not in text and app.config["SECRET_KEY"] not in text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_are_off_by_default(app):
    assert app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_need_a_token_to_be_enabled(database_url, tmp_path):
    with pytest.raises(ValueError, match="METRICS_TOKEN"):
        make_app(database_url, tmp_path, METRICS_ENABLED=True)


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_wrong_token_gets_401(metrics_app, header):
    response = metrics_app.test_client().get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and TOKEN not in response.get_data(as_text=True)


def test_the_exposition_counts_outbox_mail_answers_and_requests(metrics_app, smtp_server, make_person, make_event):
    before = scrape(metrics_app)
    assert before[("planner_outbox_messages", (("state", "queued"),))] == 0
    assert before[("planner_outbox_oldest_waiting_seconds", ())] == 0
    client, event, link = sent_event(metrics_app, smtp_server, make_person, make_event, 3)
    page = client.get(link)
    assert page.status_code == 200
    client.post(link, data={"csrf_token": csrf_from(page.data), "answer": "no"})
    code, _ = ingest_cli(metrics_app, client_reply(smtp_server.messages[1].data, "ACCEPTED"))
    assert code == 0
    db.session.add(OutgoingMail(message_id="<waiting@test>", sender="a@b.test", recipient="c@d.test", subject="s", raw=b"x"))
    db.session.commit()
    after = scrape(metrics_app)
    assert after[("planner_outbox_messages", (("state", "sent"),))] == 3
    assert after[("planner_outbox_messages", (("state", "queued"),))] == 1
    assert after[("planner_outbox_oldest_waiting_seconds", ())] >= 0
    sent = ("planner_mail_outcomes_total", (("outcome", "sent"),))
    assert after[sent] - before.get(sent, 0) == 3
    for answer in ("no", "yes"):
        key = ("planner_rsvp_answers_total", (("answer", answer),))
        assert after[key] - before.get(key, 0) >= 1
    assert after[("planner_request_seconds_count", (("endpoint", "events.send"),))] >= 1
    assert not any("rsvp/" in str(labels) for _, labels in after), "no token or path in a label"
    assert db.session.query(OutgoingMail).filter_by(state=MailState.SENT).count() == 3
