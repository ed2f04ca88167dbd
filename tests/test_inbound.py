"""The inbound listener and `flask mail serve`, driven by smtplib over loopback."""

import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from planner.inbound import make_inbound_server
from tests.helpers import make_app
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def reply_mail(number: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"guest{number}@example.org"
    message["To"] = "rsvp@planner.example.org"
    message["Subject"] = f"Accepted: Summer party ({number})"
    message["Message-ID"] = f"<reply-{number}@example.org>"
    message.set_content("Accepted")
    return message


@pytest.fixture
def listener():
    """Start a listener whose answers are scripted per test; yields (controller, received, answers)."""
    received: list[bytes] = []
    answers: list = []

    def handle(raw: bytes):
        received.append(raw)
        answer = answers.pop(0) if answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    controller = make_inbound_server("127.0.0.1", 0, handle)
    controller.start()
    yield controller, received, answers
    controller.stop()


def connect(controller) -> smtplib.SMTP:
    return smtplib.SMTP(controller.hostname, controller.port, timeout=5)


def test_any_address_is_accepted_and_raw_bytes_handed_over(listener):
    controller, received, _ = listener
    assert controller.port != 0
    with connect(controller) as client:
        client.send_message(reply_mail(1), "guest1@example.org", ["anything@anywhere.test"])
        client.send_message(reply_mail(2), "guest2@example.org", ["rsvp+42@planner.example.org"])
    assert len(received) == 2
    assert b"Message-ID: <reply-2@example.org>" in received[1]
    assert received[0].endswith(b"Accepted\r\n")


def test_handler_reply_is_passed_to_the_sender(listener):
    controller, received, answers = listener
    answers.append("550 5.6.0 Not a calendar reply")
    with connect(controller) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(reply_mail(1), "guest1@example.org", ["rsvp@planner.example.org"])
    assert refused.value.smtp_code == 550


def test_handler_exception_gives_451_and_the_server_goes_on(listener):
    controller, received, answers = listener
    answers.append(RuntimeError("database is locked"))
    with connect(controller) as client:
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            client.send_message(reply_mail(1), "guest1@example.org", ["rsvp@planner.example.org"])
        assert deferred.value.smtp_code == 451
        client.send_message(reply_mail(2), "guest2@example.org", ["rsvp@planner.example.org"])
    with connect(controller) as client:
        client.send_message(reply_mail(3), "guest3@example.org", ["rsvp@planner.example.org"])
    assert len(received) == 3


def serve(tmp_path: Path, port: int, *, sigint_ignored: bool) -> subprocess.Popen:
    """Start `flask --app wsgi mail serve` as its own process on a fresh SQLite database.

    sigint_ignored starts it as `&` in a non-interactive shell does: with SIGINT ignored.
    """
    database = tmp_path / "serve.sqlite"
    make_app(f"sqlite:///{database}", tmp_path)
    environment = {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "instance"),
        "PLANNER_SECRET_KEY": "serve-test-key",
        "PLANNER_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "serve", "--port", str(port)]
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    with (tmp_path / "serve.log").open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT, preexec_fn=ignore)


def wait_for_listener(process: subprocess.Popen, port: int, log: Path) -> None:
    """Poll until the port accepts connections; fail if the process ends or a minute passes."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            assert process.poll() is None, f"mail serve ended early: {log.read_text()}"
            assert time.monotonic() < deadline, f"mail serve never listened: {log.read_text()}"
            time.sleep(0.05)


@pytest.mark.parametrize(("stop", "sigint_ignored"), [
    (signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, True),
], ids=["SIGTERM", "SIGINT", "SIGINT, started with SIGINT ignored", "SIGTERM, started with SIGINT ignored"])
def test_mail_serve_applies_mail_until_a_signal_stops_it(tmp_path, stop, sigint_ignored):
    port = free_port()
    process = serve(tmp_path, port, sigint_ignored=sigint_ignored)
    try:
        wait_for_listener(process, port, tmp_path / "serve.log")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.send_message(reply_mail(1), "guest1@example.org", ["rsvp@planner.example.org"])
        process.send_signal(stop)
        assert process.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with sqlite3.connect(tmp_path / "serve.sqlite") as connection:
        logged = connection.execute("SELECT message_id, outcome FROM inbound_mail").fetchall()
    assert logged == [("<reply-1@example.org>", "rejected")]
    assert f"Listening for replies on 127.0.0.1:{port}" in (tmp_path / "serve.log").read_text()
