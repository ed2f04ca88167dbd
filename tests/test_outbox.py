"""The persistent outbox against a real SMTP server: retries, failures, TLS, login, several workers, leases."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from planner.extensions import db
from planner.mail import MailConfigError, SMTPSettings, SMTPTransport, transport_from_config
from planner.models import MailState, OutgoingMail, utcnow
from planner.outbox import DEFAULT_LEASE, claim_batch, deliver, lease_from_config, release_stale_claims, resend
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


def test_the_callers_session_sees_the_outcomes_and_stays_usable(app, smtp_server):
    queue(2)
    smtp_server.fail_next(1, 550, stage="RCPT")
    loaded = db.session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
    assert deliver(db.session, transport(smtp_server)).sent == 1
    assert [mail.state for mail in loaded] == [MailState.FAILED, MailState.SENT], "what the caller had loaded is fresh"
    resend(db.session, loaded[0])
    db.session.commit()
    assert deliver(db.session, transport(smtp_server)).sent == 1 and states() == {MailState.SENT: 2}


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
    assert release_stale_claims(db.session, utcnow() + DEFAULT_LEASE + timedelta(seconds=1)) == 1
    make_due()
    assert deliver(db.session, transport(smtp_server)).sent == 1
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [message_id, message_id]


def test_a_claim_is_a_lease_claimable_again_only_once_it_has_run_out(app):
    queue(2)
    now, lease = utcnow(), timedelta(seconds=60)
    (first,) = claim_batch(db.session, now, 1, lease=lease)
    assert db.session.scalar(select(OutgoingMail.lease_until).where(OutgoingMail.id == first.id)) == now + lease
    (second,) = claim_batch(db.session, now + timedelta(seconds=30), 10, lease=lease)
    assert second.id != first.id, "a live lease keeps the message out of another claim"
    assert claim_batch(db.session, now + lease, 10, lease=lease) == [], "a lease is live up to its last instant"
    (again,) = claim_batch(db.session, now + lease + timedelta(seconds=1), 10, lease=lease)
    assert again.id == first.id, "the run-out lease is claimable, the one taken 30 s later is not yet"
    assert again.attempts == 0


class WatchedTransport(SMTPTransport):
    """A real SMTP transport that calls watch() just before it sends each message."""

    def __init__(self, settings: SMTPSettings, watch):
        super().__init__(settings)
        self.watch = watch

    def send(self, message, *, sender: str, recipients: list[str]) -> None:
        self.watch()
        super().send(message, sender=sender, recipients=recipients)


def test_a_worker_renews_its_lease_while_it_sends(app, smtp_server):
    queue(4)
    leases = []

    def watch():
        with Session(db.engine) as other:
            leases.append(set(other.scalars(select(OutgoingMail.lease_until).where(OutgoingMail.state == MailState.SENDING))))
        time.sleep(0.25)  # more than a third of the lease: the worker renews before the next message

    settings = SMTPSettings(host=smtp_server.host, port=smtp_server.port, timeout=5)
    assert deliver(db.session, WatchedTransport(settings, watch), lease=timedelta(seconds=0.6)).sent == 4
    assert [len(seen) for seen in leases] == [1, 1, 1, 1], "the rest of the claim shares one lease"
    renewed = [seen.pop() for seen in leases]
    assert renewed == sorted(set(renewed)), "each renewal moves the lease on"
    assert {mail.lease_until for mail in db.session.scalars(select(OutgoingMail))} == {None}


def test_each_message_is_recorded_sent_before_the_next_goes_out(app, smtp_server):
    queue(5)
    seen = []

    def watch():  # what a worker killed at this instant would leave: only the message in flight unrecorded
        with Session(db.engine) as other:
            seen.append(other.scalar(select(func.count()).where(OutgoingMail.state == MailState.SENT)))

    settings = SMTPSettings(host=smtp_server.host, port=smtp_server.port, timeout=5)
    assert deliver(db.session, WatchedTransport(settings, watch)).sent == 5
    assert seen == [0, 1, 2, 3, 4], "a worker killed mid-run can send at most the one message in flight twice"


def test_a_worker_that_lost_its_lease_leaves_the_rest_to_the_new_holder(app, smtp_server):
    queue(3)
    taken = []

    def watch():
        if not taken:  # while the first message goes out, the lease runs out and another worker claims all three
            with Session(db.engine) as other:
                taken.extend(claim_batch(other, utcnow() + timedelta(hours=1), 10))
            time.sleep(0.15)  # more than a third of the lease: the worker checks its claim before the next message

    settings = SMTPSettings(host=smtp_server.host, port=smtp_server.port, timeout=5)
    report = deliver(db.session, WatchedTransport(settings, watch), lease=timedelta(seconds=0.3))
    assert report.sent == 1 and len(smtp_server.messages) == 1 and len(taken) == 3
    assert states() == {MailState.SENT: 1, MailState.SENDING: 2}, "the message that did leave is recorded as sent"


@pytest.mark.parametrize("value", [0, -5, 0.5, 10**6, "soon", True, None])
def test_a_bad_lease_setting_is_refused_with_a_clear_message(value):
    with pytest.raises(MailConfigError, match="OUTBOX_LEASE_SECONDS must be a number of seconds from 1 to 86400"):
        lease_from_config({"OUTBOX_LEASE_SECONDS": value})
    assert lease_from_config({"OUTBOX_LEASE_SECONDS": 2.5}) == timedelta(seconds=2.5)
    assert lease_from_config({}) == DEFAULT_LEASE


def test_the_outbox_commands_refuse_a_bad_lease_and_keep_the_mail(app, smtp_server):
    app.config.update(MAIL_TRANSPORT="smtp", SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, OUTBOX_LEASE_SECONDS="soon")
    queue(1)
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 1 and "OUTBOX_LEASE_SECONDS must be a number of seconds" in result.output
    assert states() == {MailState.QUEUED: 1} and smtp_server.messages == []


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


def worker_environment(app, smtp_server: SMTPServer, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a `flask outbox work` process that shares the test's database and SMTP server."""
    return {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "PLANNER_SECRET_KEY": "worker-test-key",
        "PLANNER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PLANNER_MAIL_TRANSPORT": "smtp",
        "PLANNER_SMTP_HOST": smtp_server.host,
        "PLANNER_SMTP_PORT": str(smtp_server.port),
        **{f"PLANNER_{name}": value for name, value in settings.items()},
    }


def start_worker(environment: dict[str, str], *options: str) -> subprocess.Popen:
    """Start `flask outbox work` with options in its own process."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "work", *options]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_several_worker_processes_never_send_a_message_twice(app, smtp_server, tmp_path):
    ids = queue(150)
    environment = worker_environment(app, smtp_server, tmp_path)
    workers = [start_worker(environment, "--once", "--batch", "10") for _ in range(3)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    received = [m.message["Message-ID"] for m in smtp_server.messages]
    assert sorted(received) == sorted(ids)
    db.session.expire_all()
    assert states() == {MailState.SENT: 150}


def wait_for(condition, what: str, *, process: subprocess.Popen | None = None, seconds: float = 30) -> None:
    """Poll condition until it holds; fail after `seconds` (a bound against hanging, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the worker exited before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        time.sleep(0.05)


def fresh_states() -> dict[str, int]:
    """states() as the workers have committed them (a new transaction, so a new snapshot)."""
    db.session.rollback()
    return states()


def test_a_killed_worker_delays_its_untried_mail_by_one_lease(app, smtp_server, tmp_path):
    ids = queue(30)
    lease = timedelta(seconds=2)
    environment = worker_environment(app, smtp_server, tmp_path, OUTBOX_LEASE_SECONDS="2")
    smtp_server.hold_after(3)
    first = start_worker(environment, "--interval", "0.2")
    try:
        wait_for(lambda: smtp_server.held, "three messages sent and the fourth one held", process=first)
    finally:
        first.kill()
        first.communicate(timeout=30)
    killed_at, sent_before_kill = utcnow(), len(smtp_server.messages)
    db.session.rollback()
    orphans = db.session.execute(
        select(OutgoingMail.id, OutgoingMail.claimed_by, OutgoingMail.lease_until).where(OutgoingMail.state == MailState.SENDING)
    ).all()
    assert sent_before_kill == 3 and len(orphans) >= 30 - sent_before_kill and len({o.claimed_by for o in orphans}) == 1
    assert all(orphan.lease_until <= killed_at + lease for orphan in orphans), "the claim left behind lasts one lease at most"
    smtp_server.release()
    second = start_worker(environment, "--interval", "0.2")
    try:
        wait_for(lambda: fresh_states() == {MailState.SENT: 30}, "delivery of all 30 messages", process=second)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    taken_at = dict(db.session.execute(select(OutgoingMail.id, OutgoingMail.claimed_at)).all())
    assert all(taken_at[orphan.id] > orphan.lease_until for orphan in orphans), "taken over once the lease had run out"
    received = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert set(received) == set(ids) and max(received.values()) <= 2
    assert received.total() - len(ids) <= sent_before_kill + 1, "twice at most: the unrecorded ones and the interrupted one"


def test_a_stopped_worker_puts_back_what_it_has_not_sent_at_once(app, smtp_server, tmp_path):
    ids = queue(30)
    smtp_server.hold_after(3)
    worker = start_worker(worker_environment(app, smtp_server, tmp_path), "--interval", "0.2")  # lease: 60 s
    try:
        wait_for(lambda: smtp_server.held, "three messages sent and the fourth one held", process=worker)
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: MailState.SENDING not in fresh_states(), "the claim put back")
    finally:
        smtp_server.release()  # the worker's polite QUIT waits for the reply to the held message
        output = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert states() == {MailState.SENT: 3, MailState.QUEUED: 27}, "sent ones recorded, the rest queued again, no attempt counted"
    assert deliver(db.session, transport(smtp_server)).sent == 27
    received = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert set(received) == set(ids) and received.total() <= 31, "only the interrupted message may arrive twice"
