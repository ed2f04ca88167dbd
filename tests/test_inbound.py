"""The inbound listener, driven by smtplib over loopback."""

import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from planner.inbound import make_inbound_server
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


def test_serve_forever_runs_until_interrupted(tmp_path):
    port = free_port()
    script = (
        "import sys; from pathlib import Path; from planner.inbound import serve_forever;"
        f"serve_forever('127.0.0.1', {port}, lambda raw: Path(sys.argv[1]).write_bytes(raw))"
    )
    saved = tmp_path / "received.eml"
    process = subprocess.Popen([sys.executable, "-c", script, str(saved)], cwd=ROOT)
    try:
        client = wait_for_listener(port)
        with client:
            client.send_message(reply_mail(1), "guest1@example.org", ["rsvp@planner.example.org"])
        assert b"<reply-1@example.org>" in saved.read_bytes()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def wait_for_listener(port: int) -> smtplib.SMTP:
    deadline = time.monotonic() + 10
    while True:
        try:
            return smtplib.SMTP("127.0.0.1", port, timeout=5)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
