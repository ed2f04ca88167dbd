"""The persistent outbox against a real SMTP server: retries, failures, TLS, login, several workers."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from planner.extensions import db
from planner.mail import SMTPSettings, SMTPTransport, transport_from_config
from planner.models import MailState, OutgoingMail, utcnow
from planner.outbox import (
    STALE_CLAIM,
    claim_batch,
    deliver,
    release_stale_claims,
    resend,
)
from planner.services.mails import queue_mail
from tests.smtp_server import CAN_MAKE_CERTIFICATES, SMTPServer, free_port

ROOT = Path(__file__).resolve().parents[1]


def queue(count: int, event_id=None) -> list[str]:
    """Queue count small messages and commit; return their Message-IDs."""
    ids = []
    for number in range(count):
        message = EmailMessage()
        message["From"] = "planner@example.com"
        message["To"] = f"person{number}@example.com"
        message["Subject"] = f"Message {number}"
        message["Message-ID"] = make_msgid(domain="planner.test")
        message.set_content("Hello")
        queue_mail(db.session, message, event_id=event_id)
        ids.append(message["Message-ID"])
    db.session.commit()
    return ids


def transport(server: SMTPServer, **settings) -> SMTPTransport:
    return SMTPTransport(SMTPSettings(host=server.host, port=server.port, timeout=5, **settings))


def states() -> dict[str, int]:
    rows = db.session.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state))
    return dict(rows.all())


def make_due() -> None:
    db.session.execute(update(OutgoingMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_queued_mail_is_sent_once_with_its_own_message_id(app, smtp_server):
    ids = queue(5)
    report = deliver(db.session, transport(smtp_server))
    assert report.sent == 5 and states() == {MailState.SENT: 5}
    assert [m.message["Message-ID"] for m in smtp_server.messages] == ids
    assert smtp_server.connections == 1, "one connection serves the batch"
    assert deliver(db.session, transport(smtp_server)).sent == 0


def test_server_down_at_the_start_keeps_everything_queued_for_retry(app):
    queue(3)
    down = SMTPTransport(SMTPSettings(host="127.0.0.1", port=free_port(), timeout=2))
    report = deliver(db.session, down)
    assert report.sent == 0 and report.errors and "refused" in report.errors[0]
    assert states() == {MailState.RETRY: 3}
    attempts = sorted(db.session.scalars(select(OutgoingMail.attempts)))
    assert attempts == [0, 0, 1], "only the message that was tried counts an attempt"
    assert all(m.next_attempt_at > utcnow() for m in db.session.scalars(select(OutgoingMail)))


def test_temporary_refusals_back_off_then_fail_after_five_retries(app, smtp_server):
    queue(1)
    delays = []
    for _ in range(6):
        smtp_server.fail_next(1, 451)
        before = utcnow()
        deliver(db.session, transport(smtp_server))
        mail = db.session.scalar(select(OutgoingMail))
        if mail.state == MailState.RETRY:
            delays.append(round((mail.next_attempt_at - before).total_seconds() / 60))
        make_due()
    assert delays == [1, 5, 15, 60, 240]
    mail = db.session.scalar(select(OutgoingMail))
    assert mail.state == MailState.FAILED and "451" in mail.last_error
    assert smtp_server.messages == []


def test_permanent_refusal_fails_that_message_only(app, smtp_server):
    queue(3)
    smtp_server.fail_next(1, 550, stage="RCPT")
    report = deliver(db.session, transport(smtp_server))
    assert (report.sent, report.failed) == (2, 1)
    failed = db.session.scalar(select(OutgoingMail).where(OutgoingMail.state == MailState.FAILED))
    assert "550" in failed.last_error and failed.attempts == 1


def test_421_and_a_dropped_connection_mid_batch_lose_nothing(app, smtp_server):
    ids = queue(6)
    smtp_server.drop_after(2)
    first = deliver(db.session, transport(smtp_server))
    smtp_server.fail_next(1, 421)
    make_due()
    second = deliver(db.session, transport(smtp_server))
    make_due()
    third = deliver(db.session, transport(smtp_server))
    assert first.sent + second.sent + third.sent == 6
    assert sorted(m.message["Message-ID"] for m in smtp_server.messages) == sorted(ids)
    assert states() == {MailState.SENT: 6}


def test_a_resent_failed_message_keeps_its_message_id(app, smtp_server):
    (message_id,) = queue(1)
    smtp_server.fail_next(1, 550)
    deliver(db.session, transport(smtp_server))
    mail = db.session.scalar(select(OutgoingMail))
    assert mail.state == MailState.FAILED
    resend(db.session, mail)
    db.session.commit()
    assert deliver(db.session, transport(smtp_server)).sent == 1
    assert smtp_server.messages[0].message["Message-ID"] == message_id


def test_a_crash_after_sending_gives_at_most_a_duplicate(app, smtp_server):
    (message_id,) = queue(1)
    (claimed,) = claim_batch(db.session, utcnow(), 10)
    transport(smtp_server).send(claimed.raw, sender=claimed.sender, recipients=[claimed.recipient])
    # the worker dies here: the message stays claimed ("sending") and is not lost
    assert deliver(db.session, transport(smtp_server)).sent == 0
    assert release_stale_claims(db.session, utcnow() + STALE_CLAIM + timedelta(seconds=1)) == 1
    make_due()
    assert deliver(db.session, transport(smtp_server)).sent == 1
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [message_id, message_id]


def test_login_failure_is_explained_and_nothing_is_lost(app):
    with SMTPServer(auth=("planner", "right")) as server:
        queue(2)
        report = deliver(db.session, transport(server, username="planner", password="wrong"))
        assert report.errors and "SMTP login refused for user 'planner'" in report.errors[0]
        assert states() == {MailState.RETRY: 2}
        assert set(db.session.scalars(select(OutgoingMail.attempts))) == {0}
        make_due()
        assert deliver(db.session, transport(server, username="planner", password="right")).sent == 2


@pytest.mark.skipif(not CAN_MAKE_CERTIFICATES, reason="the openssl binary is needed for a test certificate")
def test_starttls_with_a_self_signed_certificate(app):
    with SMTPServer(security="starttls") as server:
        queue(1)
        report = deliver(db.session, transport(server, security="starttls"))
        assert report.errors and "SMTP_CA_FILE" in report.errors[0]
        make_due()
        trusted = transport(server, security="starttls", ca_file=server.certificate.cert_file)
        assert deliver(db.session, trusted).sent == 1
        queue(1)
        assert deliver(db.session, transport(server, security="starttls", verify=False)).sent == 1
        assert len(server.messages) == 2


def test_several_workers_never_send_a_message_twice(app, smtp_server):
    ids = queue(120)
    url = str(db.engine.url.render_as_string(hide_password=False))
    reports = []

    def worker():
        with app.app_context():
            while True:
                report = deliver(db.session, transport(smtp_server), limit=7)
                reports.append(report)
                if not report.sent:
                    return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    received = [m.message["Message-ID"] for m in smtp_server.messages]
    assert sorted(received) == sorted(ids), f"each message exactly once ({url.split(':')[0]})"
    assert sum(report.sent for report in reports) == 120
    assert states() == {MailState.SENT: 120}


def test_outbox_commands_send_what_is_due(app, smtp_server):
    app.config.update(MAIL_TRANSPORT="smtp", SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    queue(3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "work", "--once"])
    assert result.exit_code == 0 and "3 sent" in result.output
    app.config["SMTP_PORT"] = free_port()
    queue(1)
    failed = runner.invoke(args=["outbox", "send"])
    assert failed.exit_code == 1 and "refused" in failed.output
    assert isinstance(transport_from_config(app.config), SMTPTransport)


def test_several_worker_processes_never_send_a_message_twice(app, smtp_server, tmp_path):
    ids = queue(150)
    environment = {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "PLANNER_SECRET_KEY": "worker-test-key",
        "PLANNER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PLANNER_MAIL_TRANSPORT": "smtp",
        "PLANNER_SMTP_HOST": smtp_server.host,
        "PLANNER_SMTP_PORT": str(smtp_server.port),
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "work", "--once", "--batch", "10"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    received = [m.message["Message-ID"] for m in smtp_server.messages]
    assert sorted(received) == sorted(ids)
    db.session.expire_all()
    assert states() == {MailState.SENT: 150}
