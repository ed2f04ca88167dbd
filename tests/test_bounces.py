"""Delivery status notifications (planner.bounces): failed recipients, the returned message's UIDs and Message-ID."""

import subprocess
import sys
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.bounces import Bounce, read_bounce
from planner.ical import AttendeeInfo, EventInfo, build_request, calendar_part, read_replies
from tests.helpers import SHARED

VECTORS = SHARED / "data" / "itip" / "vectors"
FILES = sorted(p.name for p in VECTORS.glob("*") if p.suffix in {".eml", ".ics"}) if VECTORS.is_dir() else []
needs_vectors = pytest.mark.skipif(not FILES, reason=f"no iTIP test vectors in {VECTORS.resolve()}")
#: every vector file that is a bounce, and what it says
BOUNCES = {
    "bounce-dsn-with-request-ics.eml": Bounce(
        recipients=("nonexistant@example.com",),
        uids=("1E71F9C8-AEDA-48EB-98D0-76E898F6BB5C",),
        message_id="<20080812191939.51369.1538816694.0@plugh.example.com>",
    ),
}
STAMP = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
EVENT = EventInfo(
    uid="6f1c2a7e-0b1d-4c3e-9a55-2f4d8e1b7c90@planner.example.com", sequence=0, summary="Summer party",
    description="", location="Roof", starts_at=datetime(2026, 12, 31, 19, tzinfo=timezone.utc),
    ends_at=datetime(2026, 12, 31, 23, tzinfo=timezone.utc), timezone="UTC",
    organizer_email="rsvp+tok@planner.example.com", organizer_name="People Team",
)


def sent_request() -> bytes:
    """One invitation mail as the planner sends it, with a Message-ID."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "planner@example.com", "Anna.Muller@Example.com", "Invitation: Summer party"
    mail["Message-ID"] = "<inv-1@planner.example.com>"
    mail.set_content("You are invited.")
    mail.make_mixed()
    mail.attach(calendar_part(build_request(EVENT, AttendeeInfo("Anna.Muller@Example.com", "Anna"), stamp=STAMP), "REQUEST"))
    return mail.as_bytes()


def bounce_of(original: bytes, action: bytes = b"failed") -> bytes:
    """Wrap a sent message in a multipart/report DSN the way an MTA returns it."""
    return b"\r\n".join([
        b"From: MAILER-DAEMON@mx.example.com",
        b"Subject: Undelivered Mail Returned to Sender",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
        b"", b"--B", b"Content-Type: text/plain", b"", b"Your mail could not be delivered.",
        b"--B", b"Content-Type: message/delivery-status", b"",
        b"Reporting-MTA: dns; mx.example.com", b"",
        b"Original-Recipient: rfc822;Anna.Muller@Example.com",
        b"Final-Recipient: rfc822; <anna@mailbox.example.com>",
        b"Action: " + action, b"Status: 5.1.1", b"",
        b"--B", b"Content-Type: message/rfc822", b"", original, b"--B--", b"",
    ])


def test_bounce_of_our_request():
    report = bounce_of(sent_request())
    assert read_bounce(report) == Bounce(
        recipients=("anna.muller@example.com", "anna@mailbox.example.com"),
        uids=(EVENT.uid,), message_id="<inv-1@planner.example.com>",
    )
    assert read_replies(report) == []


def test_delay_report_is_not_a_bounce():
    assert read_bounce(bounce_of(b"Subject: hi\r\n\r\nhi\r\n", action=b"delayed")) is None


def test_daemon_mail_without_a_report_names_the_failed_recipient_header():
    raw = b"".join([
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n",
        b"Subject: Mail delivery failed: returning message to sender\r\n",
        b"X-Failed-Recipients: Anna.Muller@Example.com, not-an-address\r\n\r\n",
        b"This message was created automatically.\r\n",
    ])
    assert read_bounce(raw) == Bounce(("anna.muller@example.com",), (), None)


def test_ordinary_mail_is_not_a_bounce():
    assert read_bounce(sent_request()) is None
    assert read_bounce(b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Out of office\r\n\r\nhi\r\n") is None
    assert read_bounce(b"") is None


@needs_vectors
@pytest.mark.parametrize("name", FILES)
def test_vector_files(name):
    assert read_bounce((VECTORS / name).read_bytes()) == BOUNCES.get(name)


@needs_vectors
@pytest.mark.parametrize("name", sorted(BOUNCES))
def test_truncated_and_corrupted_bounces_never_raise(name):
    data = (VECTORS / name).read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 60)):
        for mangled in (data[:cut], data[:cut] + data[cut + 7:], data[cut:]):
            found = read_bounce(mangled)
            assert found is None or isinstance(found, Bounce)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data):
    assert read_bounce(data) is None or isinstance(read_bounce(data), Bounce)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mangled_bounce_never_raises(data):
    report = bounce_of(sent_request())
    cut = data.draw(st.integers(0, len(report)))
    noise = data.draw(st.binary(max_size=40))
    where = data.draw(st.integers(0, cut))
    found = read_bounce(report[:where] + noise + report[where:cut])
    assert found is None or isinstance(found, Bounce)


def test_module_is_pure():
    code = "import sys, planner.bounces; assert not {'flask', 'sqlalchemy'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
