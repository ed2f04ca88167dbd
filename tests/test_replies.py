"""Calendar replies and bounces: over the inbound SMTP listener and `flask mail ingest`, like the RSVP link."""

import os
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from planner.cli.mail import inbound_handler
from planner.extensions import db
from planner.inbound import make_inbound_server
from planner.models import (
    Answer,
    Event,
    EventStatus,
    InboundMail,
    Invitation,
    OutgoingMail,
    utcnow,
)
from planner.text import control_problem
from planner.tokens import new_reply_token, new_token
from tests.helpers import (
    PASSWORD,
    SHARED,
    client_reply,
    csrf_from,
    edit,
    ingest_cli,
    log_in,
    parse_mail,
    propose_and_send,
    readdressed,
    sent_event,
    staff,
)
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]
VECTORS = SHARED / "data" / "itip" / "vectors"
VECTOR_FILES = sorted(p.name for p in VECTORS.glob("*") if p.suffix in {".eml", ".ics"}) if VECTORS.is_dir() else []
needs_vectors = pytest.mark.skipif(not VECTOR_FILES, reason=f"no iTIP test vectors in {VECTORS.resolve()}")
REPLY_DOMAIN = "planner.example.com"




def last_inbound() -> InboundMail:
    return db.session.scalars(select(InboundMail).order_by(InboundMail.id.desc())).first()


@pytest.fixture
def sent(smtp_app, smtp_server, make_person, make_event):
    """Three invitations sent over SMTP; returns {email: received raw invitation}."""
    sent_event(smtp_app, smtp_server, make_person, make_event, 3)
    db.session.commit()
    return {m.recipients[0]: m.data for m in smtp_server.messages}


@pytest.fixture
def listener(smtp_app):
    """The `mail serve` machinery on a free loopback port."""
    controller = make_inbound_server("127.0.0.1", 0, inbound_handler(smtp_app))
    controller.start()
    yield controller
    controller.stop()


def send_to(listener, raw: bytes, sender: str, recipient: str) -> None:
    with smtplib.SMTP(listener.hostname, listener.port, timeout=10) as connection:
        connection.sendmail(sender, [recipient], raw)
    db.session.expire_all()


def invitation_of(email: str) -> Invitation:
    return next(inv for inv in db.session.scalars(select(Invitation)) if inv.person.email == email)


def test_reply_over_smtp_answers_like_the_link(sent, listener):
    email, request = next(iter(sent.items()))
    raw = client_reply(request, "ACCEPTED", "Looking forward, vegetarian please")
    send_to(listener, raw, email, parse_mail(raw)["To"])
    invitation = invitation_of(email)
    assert invitation.answer == Answer.YES and invitation.answered_at is not None
    assert invitation.comment == "Looking forward, vegetarian please"
    assert invitation.reply_sequence == 0
    entry = last_inbound()
    assert (entry.outcome, entry.invitation_id, entry.sender) == ("applied", invitation.id, email)


def test_reply_through_mail_ingest_and_exchange_quirks(sent, smtp_app):
    emails = list(sent)
    for email, partstat, answer in zip(emails, ("DECLINED", "TENTATIVE", "ACCEPTED"), (Answer.NO, Answer.MAYBE, Answer.YES)):
        code, output = ingest_cli(smtp_app, client_reply(sent[email], partstat, "no, sorry", exchange=True))
        assert (code, output.split(":")[0]) == (0, "applied"), output
        assert invitation_of(email).answer == answer and invitation_of(email).comment == "no, sorry"
    code, output = ingest_cli(smtp_app, client_reply(sent[emails[2]], "ACCEPTED", exchange=True))
    assert (code, output.strip()) == (0, "ignored: already recorded: yes")


def test_reply_to_an_update_applies_and_a_late_reply_to_the_first_invitation_is_outdated(
    smtp_app, smtp_server, make_person, make_event
):
    client = smtp_app.test_client()
    staff(make_person, 2)
    event = make_event(organiser=log_in(client), capacity=2)
    propose_and_send(client, event)
    first = {m.recipients[0]: m.data for m in smtp_server.messages}
    smtp_server.messages.clear()
    _, data = edit(client, db.session.get(Event, event.id), start="13:00", end="14:00")
    client.post(f"/events/{event.id}/edit/confirm", data=data)
    updates = {m.recipients[0]: m.data for m in smtp_server.messages}
    email = next(iter(updates))
    code, output = ingest_cli(smtp_app, client_reply(updates[email], "DECLINED", "13:00 does not work"))
    assert output.startswith("applied: answer no"), output
    code, output = ingest_cli(smtp_app, client_reply(first[email], "ACCEPTED"))
    assert output.strip() == "ignored: outdated: the reply is for SEQUENCE 0, the invitation is at 1"
    assert (invitation_of(email).answer, invitation_of(email).reply_sequence) == (Answer.NO, 1)


def test_reply_with_older_sequence_is_ignored(sent, smtp_app):
    email = next(iter(sent))
    invitation = invitation_of(email)
    invitation.event.sequence = 2
    db.session.commit()
    code, output = ingest_cli(smtp_app, client_reply(sent[email], "DECLINED", sequence=1))
    assert code == 0 and output.startswith("ignored: outdated"), output
    assert invitation_of(email).answer == Answer.PENDING
    code, output = ingest_cli(smtp_app, client_reply(sent[email], "DECLINED", sequence=2))
    assert output.startswith("applied") and invitation_of(email).reply_sequence == 2


def test_reply_for_another_attendee_is_rejected(sent, smtp_app, listener):
    email, other = list(sent)[:2]
    raw = client_reply(sent[email], "DECLINED", attendee=other)
    send_to(listener, raw, other, parse_mail(raw)["To"])
    entry = last_inbound()
    assert entry.outcome == "rejected" and f"not for the invitee {email}" in entry.reason
    assert invitation_of(email).answer == invitation_of(other).answer == Answer.PENDING


def test_tampered_reply_token_is_rejected(sent, smtp_app):
    email = next(iter(sent))
    raw = client_reply(sent[email])
    to = parse_mail(raw)["To"].addresses[0].addr_spec
    token = to.split("+", 1)[1].split("@")[0]
    tampered = token[:-1] + ("a" if token[-1] != "a" else "b")
    code, output = ingest_cli(smtp_app, readdressed(raw, to.replace(token, tampered)))
    assert (code, output.strip()) == (0, "rejected: unknown reply address (no invitation has that token)")
    code, output = ingest_cli(smtp_app, readdressed(raw, "rsvp+short@planner.example.com"))
    assert output.startswith("rejected: unknown reply address")
    assert invitation_of(email).answer == Answer.PENDING


def test_reply_about_another_event_is_rejected(sent, smtp_app):
    email = next(iter(sent))
    code, output = ingest_cli(smtp_app, client_reply(sent[email], uid="forwarded@elsewhere.test"))
    assert output.strip() == "rejected: the reply is about another event (UID forwarded@elsewhere.test)"
    assert invitation_of(email).answer == Answer.PENDING


def test_reply_after_uninvite_or_cancel_is_rejected(sent, smtp_app):
    first, second = list(sent)[:2]
    invitation_of(first).cancelled_at = utcnow()
    db.session.commit()
    code, output = ingest_cli(smtp_app, client_reply(sent[first]))
    assert output.strip() == "rejected: This invitation was withdrawn."
    event = invitation_of(second).event
    event.status = EventStatus.CANCELLED
    db.session.commit()
    code, output = ingest_cli(smtp_app, client_reply(sent[second]))
    assert output.strip() == "rejected: Answers for this event are closed."


def test_delegated_is_rejected_with_a_reason(sent, smtp_app):
    email = next(iter(sent))
    code, output = ingest_cli(smtp_app, client_reply(sent[email], "DELEGATED"))
    assert code == 0 and output.startswith("rejected: DELEGATED is not supported")


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "not a calendar reply"),
    (b"From: a@b.test\r\nTo: rsvp+x@planner.example.com\r\n\r\nhello\r\n", "not a calendar reply"),
    (b"\xff\xfe garbage \x00", "not a calendar reply"),
])
def test_junk_is_rejected_and_logged(smtp_app, raw, reason):
    code, output = ingest_cli(smtp_app, raw)
    assert code == 0 and output.startswith(f"rejected: {reason}")
    assert db.session.scalar(select(func.count(InboundMail.id))) == 1


def test_reply_without_an_answer_says_so(sent, smtp_app):
    email = next(iter(sent))
    code, output = ingest_cli(smtp_app, client_reply(sent[email], "NEEDS-ACTION"))
    assert (code, output.strip()) == (0, "rejected: the REPLY answers nothing: no event with a UID and an attendee's PARTSTAT")
    assert invitation_of(email).answer == Answer.PENDING


def test_database_error_asks_the_mta_to_retry(sent, smtp_app, listener):
    email = next(iter(sent))
    raw = client_reply(sent[email])
    db.session.execute(text("DROP TABLE inbound_mail"))
    db.session.commit()
    code, output = ingest_cli(smtp_app, raw)
    assert code == 75 and "try again later" in output
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        send_to(listener, raw, email, parse_mail(raw)["To"])
    assert deferred.value.smtp_code == 451
    assert invitation_of(email).answer == Answer.PENDING


def test_event_page_shows_replies_and_bounces(sent, smtp_app):
    email = next(iter(sent))
    ingest_cli(smtp_app, client_reply(sent[email], "DECLINED", "Sorry, on holiday"))
    invitation = invitation_of(email)
    invitation.bounced_at, invitation.bounce_reason = utcnow(), "delivery to x failed"
    db.session.commit()
    client = smtp_app.test_client()
    page = client.get("/auth/login")
    client.post("/auth/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": csrf_from(page.data)})
    html = client.get(f"/events/{invitation.event_id}").get_data(as_text=True)
    assert 'id="inbound-mail"' in html and "answer no (DECLINED)" in html
    assert 'class="bounced"' in html and "Sorry, on holiday" in html


# --- the shared vectors folder ---------------------------------------------------------------

#: what `mail ingest` does with each vector file as it is (none is addressed to one of our reply addresses)
VECTOR_OUTCOMES = {
    "bounce-dsn-with-request-ics.eml": "rejected: delivery failure report for nonexistant@example.com matches no invitation",
    "reply-apple-ical3-mail-accepted.eml": "rejected: not addressed to a reply address",
    "reply-exchange2010-accepted.eml": "rejected: not addressed to a reply address",
    "reply-exchange2010-declined-with-comment.eml": "rejected: not addressed to a reply address",
    "reply-rim-blackberry-accepted.ics": "rejected: not addressed to a reply address",
    "rfc5546-4.2.2-reply-accepted.ics": "rejected: not addressed to a reply address",
    "rfc2446-examples-collection.ics": "rejected: not addressed to a reply address",
    "apple-macosx-10.8-event-with-attendees.ics": "rejected: not a REPLY: the calendar says METHOD:(none)",
}


def expected_vector_outcome(name: str) -> str:
    if name in VECTOR_OUTCOMES:
        return VECTOR_OUTCOMES[name]
    if name.startswith("cancel-") or name == "rfc5546-4.2.9-cancel.ics":
        return "rejected: not a REPLY: the calendar says METHOD:CANCEL"
    return "rejected: not a REPLY: the calendar says METHOD:REQUEST"


@needs_vectors
@pytest.mark.parametrize("name", VECTOR_FILES)
def test_every_vector_file_is_applied_or_rejected_with_a_logged_reason(app, name):
    code, output = ingest_cli(app, (VECTORS / name).read_bytes())
    assert code == 0, output
    assert output.startswith(expected_vector_outcome(name)), output
    entry = last_inbound()
    assert entry.outcome in {"applied", "ignored", "rejected"} and entry.reason


def invitation_with(make_event, make_person, email: str, uid: str) -> tuple[Invitation, str]:
    """A sent event with that UID and an invitation for that address; returns it and its reply address."""
    event = make_event()
    event.uid, event.status, event.sent_at = uid, EventStatus.SENT, utcnow()
    person = make_person(email=email, name="Vector Person")
    reply_token, reply_hash = new_reply_token()
    invitation = Invitation(event=event, person=person, token_hash=new_token()[1], reply_token_hash=reply_hash)
    db.session.add(invitation)
    db.session.commit()
    return invitation, f"rsvp+{reply_token}@{REPLY_DOMAIN}"


REAL_REPLIES = [
    ("reply-exchange2010-accepted.eml", "markus.brechtel@uk-koeln.de", "0e4a0959-e1c7-4c5a-b353-d7abbd8ca8ac", Answer.YES, None),
    ("reply-exchange2010-declined-with-comment.eml", "markus.brechtel@uk-koeln.de", "abcfacd3-4db3-4c42-bcf5-0c17752c65fb",
     Answer.NO, "no, sorry"),
    ("reply-apple-ical3-mail-accepted.eml", "xyzzy@example.com", "1E71F9C8-AEDA-48EB-98D0-76E898F6BB5C", Answer.YES, None),
]


@needs_vectors
@pytest.mark.parametrize(("name", "email", "uid", "answer", "comment"), REAL_REPLIES)
def test_real_client_replies_readdressed_to_an_invitation_are_applied(app, make_event, make_person, name, email, uid, answer,
                                                                       comment):
    invitation, address = invitation_with(make_event, make_person, email, uid)
    code, output = ingest_cli(app, readdressed((VECTORS / name).read_bytes(), address.upper()))
    assert (code, output.split(":")[0]) == (0, "applied"), output
    invitation = db.session.get(Invitation, invitation.id)
    assert (invitation.answer, invitation.comment) == (answer, comment)


@needs_vectors
def test_bare_ics_reply_applies_with_the_envelope_recipient(app, make_event, make_person):
    invitation, address = invitation_with(make_event, make_person, "user1@domain1.tld", "f503ce50-49c6-11e5-9533-693764eab43f")
    code, output = ingest_cli(app, (VECTORS / "reply-rim-blackberry-accepted.ics").read_bytes(), "--recipient", address)
    assert output.startswith("applied"), output
    invitation = db.session.get(Invitation, invitation.id)
    assert (invitation.answer, invitation.comment) == (Answer.YES, "ok for me")


BOUNCE = "bounce-dsn-with-request-ics.eml"
BOUNCED_ID = "<20080812191939.51369.1538816694.0@plugh.example.com>"
BOUNCED_UID = "1E71F9C8-AEDA-48EB-98D0-76E898F6BB5C"


@needs_vectors
def test_bounce_matches_the_original_message_id(app, make_event, make_person):
    invitation, _ = invitation_with(make_event, make_person, "someone.else@example.com", "another-uid@planner.test")
    db.session.add(OutgoingMail(message_id=BOUNCED_ID, event_id=invitation.event_id, invitation_id=invitation.id,
                                sender="planner@localhost", recipient="someone.else@example.com", subject="Invitation", raw=b""))
    db.session.commit()
    code, output = ingest_cli(app, (VECTORS / BOUNCE).read_bytes())
    assert output.startswith("applied: bounced"), output
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.bounced_at is not None and "nonexistant@example.com" in invitation.bounce_reason
    assert invitation.answer == Answer.PENDING


@needs_vectors
def test_bounce_matches_recipient_and_uid(app, make_event, make_person):
    invitation, _ = invitation_with(make_event, make_person, "nonexistant@example.com", BOUNCED_UID)
    code, output = ingest_cli(app, (VECTORS / BOUNCE).read_bytes())
    assert output.startswith("applied: bounced"), output
    assert db.session.get(Invitation, invitation.id).bounced_at is not None
    assert last_inbound().invitation_id == invitation.id


# --- hostile messages through `flask mail ingest` as a real process ---------------------------------

def ingest_process(raw: bytes, database_url: str, instance_path: Path) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi mail ingest -` in its own process, as an MTA pipe does."""
    environment = {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(instance_path),
        "PLANNER_SECRET_KEY": "ingest-test-key",
        "PLANNER_SQLALCHEMY_DATABASE_URI": database_url,
        "PLANNER_REPLY_DOMAIN": REPLY_DOMAIN,
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "ingest", "-"]
    return subprocess.run(command, input=raw, cwd=ROOT, env=environment, capture_output=True, timeout=120)


def ingest_in_app_process(app, raw: bytes) -> subprocess.CompletedProcess:
    """Run `mail ingest` in its own process on the app's database; return its result."""
    result = ingest_process(raw, app.config["SQLALCHEMY_DATABASE_URI"], Path(app.instance_path))
    db.session.expire_all()
    return result


HOSTILE_UID = "hostile-event@planner.test"
HOSTILE_EMAIL = "guest@client.test"


def hostile_reply(address: str, *, message_id=b"<r1@client.test>", sender=HOSTILE_EMAIL.encode(), uid=HOSTILE_UID.encode(),
                  sequence=b"0", comment=b"see you", charset=b"utf-8") -> bytes:
    """A REPLY mail written byte by byte, so that any header or property can hold any byte."""
    return b"\r\n".join([
        b"From: " + sender, b"To: " + address.encode(), b"Message-ID: " + message_id, b"Subject: Accepted",
        b"MIME-Version: 1.0", b'Content-Type: text/calendar; charset="' + charset + b'"; method=REPLY', b"",
        b"BEGIN:VCALENDAR", b"VERSION:2.0", b"PRODID:-//Hostile//EN", b"METHOD:REPLY", b"BEGIN:VEVENT",
        b"UID:" + uid, b"SEQUENCE:" + sequence, b"DTSTAMP:20260101T000000Z",
        b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + HOSTILE_EMAIL.encode(), b"COMMENT:" + comment,
        b"END:VEVENT", b"END:VCALENDAR", b"",
    ])


def hostile_bounce(message_id: bytes, recipient: bytes) -> bytes:
    """A delivery failure report whose returned message carries the given Message-ID."""
    return b"\r\n".join([
        b"From: MAILER-DAEMON@mx.client.test", b"Subject: Undelivered Mail Returned to Sender", b"MIME-Version: 1.0",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', b"",
        b"--B", b"Content-Type: message/delivery-status", b"", b"Reporting-MTA: dns; mx.client.test", b"",
        b"Final-Recipient: rfc822; " + recipient, b"Action: failed", b"Status: 5.1.1", b"",
        b"--B", b"Content-Type: message/rfc822", b"", b"Message-ID: " + message_id, b"Subject: Invitation", b"", b"hi",
        b"--B--", b"",
    ])


HOSTILE = {
    "non-ASCII byte in Message-ID": ({"message_id": b"<caf\xe9@client.test>"}, "applied: answer yes"),
    "NUL in Message-ID": ({"message_id": b"<r\x00x@client.test>"}, "applied: answer yes"),
    "Message-ID of 5000 characters": ({"message_id": b"<" + b"x" * 5000 + b"@client.test>"}, "applied: answer yes"),
    "NUL in From": ({"sender": b"guest\x00@client.test"}, "applied: answer yes"),
    "NUL and an escape in COMMENT": ({"comment": b"see\x00 you \x1b[31mthere"}, "applied: answer yes"),
    "lone surrogate in COMMENT (charset unicode_escape)": ({"comment": b"see \\udc00 there", "charset": b"unicode_escape"},
                                                           "applied: answer yes"),
    "NUL in UID": ({"uid": b"hostile\x00event@planner.test"}, "rejected: the reply is about another event"),
    "UID of 5000 characters": ({"uid": b"u" * 5000}, "rejected: the reply is about another event"),
    "SEQUENCE beyond 32 bits": ({"sequence": b"9" * 30}, "rejected: the reply's SEQUENCE is out of range"),
    "SEQUENCE just beyond 32 bits": ({"sequence": b"2147483648"}, "rejected: the reply's SEQUENCE is out of range"),
}


def assert_clean(entry: InboundMail) -> None:
    assert entry.outcome in {"applied", "ignored", "rejected"} and entry.reason
    for value, limit in ((entry.message_id, 255), (entry.sender, 254), (entry.reason, 1000)):
        assert value is None or (control_problem(value) is None and len(value) <= limit), repr(value)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_reply_is_logged_with_an_outcome_and_exit_0(app, make_event, make_person, name):
    invitation, address = invitation_with(make_event, make_person, HOSTILE_EMAIL, HOSTILE_UID)
    changes, expected = HOSTILE[name]
    result = ingest_in_app_process(app, hostile_reply(address, **changes))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith(expected), result.stdout
    entry = last_inbound()
    assert f"{entry.outcome}: {entry.reason}".startswith(expected)
    assert_clean(entry)
    invitation = db.session.get(Invitation, invitation.id)
    if expected.startswith("applied"):
        assert invitation.answer == Answer.YES and control_problem(invitation.comment, multiline=True) is None
        assert invitation.comment.startswith("see") and invitation.comment.endswith("there" if "COMMENT" in name else "you")
    else:
        assert (invitation.answer, invitation.reply_sequence) == (Answer.PENDING, None)


def test_hostile_bounce_is_logged_with_an_outcome_and_exit_0(app):
    result = ingest_in_app_process(app, hostile_bounce(b"<inv\x00-1@planner.test>", b"<no\x00body@client.test>"))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith("rejected: delivery failure report for"), result.stdout
    assert_clean(last_inbound())


def test_unreachable_database_asks_the_mta_to_retry(tmp_path):
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/closed?connect_timeout=5"
    result = ingest_process(hostile_reply("rsvp+x@planner.example.com"), closed, tmp_path / "instance")
    assert result.returncode == 75, result.stderr.decode()
    assert b"try again later" in result.stderr


REFUSE_UPDATES = {  # a trigger that makes the database refuse every change of an invitation
    "sqlite": ["CREATE TRIGGER refuse BEFORE UPDATE ON invitation BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = '22023';"
        " END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE UPDATE ON invitation FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def test_a_value_the_database_refuses_is_logged_as_rejected_not_retried(app, make_event, make_person):
    invitation, address = invitation_with(make_event, make_person, HOSTILE_EMAIL, HOSTILE_UID)
    for statement in REFUSE_UPDATES[db.engine.dialect.name]:
        db.session.execute(text(statement))
    db.session.commit()
    code, output = ingest_cli(app, hostile_reply(address))
    assert code == 0 and output.startswith("rejected: the database refused a value of the message"), output
    assert "refused by a trigger" in output
    entry = last_inbound()
    assert (entry.outcome, entry.message_id, entry.sender) == ("rejected", "<r1@client.test>", HOSTILE_EMAIL)
    assert db.session.get(Invitation, invitation.id).answer == Answer.PENDING
