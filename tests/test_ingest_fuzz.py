"""Fuzzing the inbound path: random bytes and mutated real messages never make read_replies or ingest raise."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.extensions import db
from planner.ical import ANSWERS, Reply, read_replies
from planner.mailer import mail_settings
from planner.models import EventStatus, Invitation, utcnow
from planner.services.replies import ingest
from planner.text import control_problem
from planner.tokens import new_reply_token, new_token
from tests.helpers import SHARED

VECTORS = SHARED / "data" / "itip" / "vectors"
FILES = sorted(p for p in VECTORS.glob("*") if p.suffix in {".eml", ".ics"}) if VECTORS.is_dir() else []
needs_vectors = pytest.mark.skipif(not FILES, reason=f"no iTIP test vectors in {VECTORS.resolve()}: no ../shared beside the repo")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: the real replies in the vectors folder, with the invitee and event they answer
REPLIES = {
    "reply-exchange2010-accepted.eml": ("markus.brechtel@uk-koeln.de", "0e4a0959-e1c7-4c5a-b353-d7abbd8ca8ac"),
    "reply-exchange2010-declined-with-comment.eml": ("markus.brechtel@uk-koeln.de", "abcfacd3-4db3-4c42-bcf5-0c17752c65fb"),
    "reply-apple-ical3-mail-accepted.eml": ("xyzzy@example.com", "1E71F9C8-AEDA-48EB-98D0-76E898F6BB5C"),
    "reply-rim-blackberry-accepted.ics": ("user1@domain1.tld", "f503ce50-49c6-11e5-9533-693764eab43f"),
    "rfc5546-4.2.2-reply-accepted.ics": ("b@example.com", "calsrv.example.com-873970198738777@example.com"),
}
#: bytes that matter to mail and calendar parsers, and values a database refuses
HOSTILE = [
    b"\x00", b"\xff\xfe", b"\r\n", b"\r\n ", b"\n\n", b"9" * 40, b"-1", b"\x1b[31m", b"\\", b";", b":", b",", b'"',
    b";PARTSTAT=ACCEPTED", b":mailto:", b"MAILTO:", b"\r\nSEQUENCE:99999999999999999999", b"\r\nCOMMENT:\x00",
    b"\r\nUID:\x00", b"=?utf-8?q?=00?=", b"=00", b"\r\nBEGIN:VCALENDAR\r\n", b"\r\nEND:VEVENT\r\n", b"=\r\n",
    b"\r\nContent-Transfer-Encoding: quoted-printable\r\n", b'; charset="unicode_escape"', b"\\ud800", b"\xc3",
    b"\r\nMessage-ID: <\xe9\x00@x>\r\n", b"\r\nFrom: \x00\xff@x\r\n",
]


@st.composite
def mutated(draw, originals: list[bytes]) -> bytes:
    """One of the originals with a few insertions, deletions or overwrites of noise and hostile bytes."""
    message = draw(st.sampled_from(originals))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(message)))
        noise = draw(st.sampled_from(HOSTILE) | st.binary(min_size=1, max_size=16))
        operation = draw(st.sampled_from(("insert", "delete", "overwrite")))
        after = message[at:] if operation == "insert" else message[at + len(noise):]
        message = message[:at] + (b"" if operation == "delete" else noise) + after
    return message


def vector_bytes() -> list[bytes]:
    return [path.read_bytes() for path in FILES]


def assert_contract(replies) -> None:
    """What DESIGN.md promises of read_replies."""
    assert isinstance(replies, list)
    for reply in replies:
        assert isinstance(reply, Reply) and isinstance(reply.uid, str) and reply.uid
        assert reply.attendee == reply.attendee.lower() and not reply.attendee.startswith("mailto:")
        assert reply.partstat in ANSWERS
        assert isinstance(reply.sequence, int) and reply.sequence >= 0
        assert reply.comment is None or (reply.comment and reply.comment == reply.comment.strip())


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4000))
def test_read_replies_on_random_bytes(data):
    assert_contract(read_replies(data))


@needs_vectors
@settings(max_examples=150, deadline=None)
@given(mutated(vector_bytes() if FILES else [b""]))
def test_read_replies_on_mutated_vectors(data):
    assert_contract(read_replies(data))


@pytest.fixture
def invited(app, make_event, make_person):
    """An open invitation for every real reply; returns [(raw reply, its reply address)]."""
    people, pairs = {}, []
    for name, (email, uid) in REPLIES.items():
        event = make_event()
        event.uid, event.status, event.sent_at = uid, EventStatus.SENT, utcnow()
        person = people.get(email) or people.setdefault(email, make_person(email=email))
        token, token_hash = new_reply_token()
        db.session.add(Invitation(event=event, person=person, token_hash=new_token()[1], reply_token_hash=token_hash))
        pairs.append(((VECTORS / name).read_bytes(), f"rsvp+{token}@{app.config['REPLY_DOMAIN']}"))
    db.session.commit()
    return pairs


def ingested(raw: bytes, recipients: tuple[str, ...] = ()):
    """Run the ingest service on raw, check that it logged an outcome with a clean reason, and undo it."""
    now = datetime.now(UTC) + timedelta(seconds=1)
    try:
        entry = ingest(db.session, raw, mail_settings(), now, recipients)
        assert entry.id is not None and entry.outcome in {"applied", "ignored", "rejected"}
        assert entry.reason and control_problem(entry.reason) is None and len(entry.reason) <= 1000
        for value, limit in ((entry.message_id, 255), (entry.sender, 254)):
            assert value is None or (control_problem(value) is None and len(value) <= limit)
        return entry.outcome
    finally:
        db.session.rollback()


@needs_vectors
def test_the_unmutated_replies_apply(invited):
    assert [ingested(raw, (address,)) for raw, address in invited] == ["applied"] * len(invited)


@FUZZ
@given(data=st.binary(max_size=4000))
def test_ingest_on_random_bytes(app, data):
    assert ingested(data) == "rejected"


@needs_vectors
@FUZZ
@given(data=st.data())
def test_ingest_on_mutated_replies_to_open_invitations(invited, data):
    index = data.draw(st.integers(0, len(invited) - 1))
    raw, address = invited[index]
    ingested(data.draw(mutated([raw])), (address,))


@needs_vectors
@FUZZ
@given(data=mutated(vector_bytes() if FILES else [b""]))
def test_ingest_on_mutated_vectors(app, data):
    ingested(data)
