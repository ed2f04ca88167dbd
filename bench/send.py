"""Outgoing mail throughput against a local aiosmtpd server, with a raw smtplib loop as reference.

    python bench/send.py [--count 1000] [--repeat 5]

Each row is a function (settings, messages) -> callable: it does its setup untimed and returns
the work to time, which is run several times and must deliver every message on each run.
Add rows with main(extra_rows={"label": row}), e.g. the whole pipeline (DB outbox -> SMTP).
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.app import create_app  # noqa: E402
from planner.extensions import db  # noqa: E402
from planner.mail import WIRE_POLICY, SMTPSettings, SMTPTransport, transport_from_config  # noqa: E402
from planner.models import Event, OutgoingMail, Person, ProposalEntry  # noqa: E402
from planner.outbox import deliver  # noqa: E402
from planner.services.accounts import create_organiser  # noqa: E402
from planner.services.invites import send_invites  # noqa: E402
from planner.services.mails import MailSettings  # noqa: E402
from tests.smtp_server import SMTPServer  # noqa: E402

SENDER = "planner@example.org"
START = datetime(2027, 6, 18, 16, 0, tzinfo=timezone.utc)

#: (server settings, messages) -> the work to time.
Row = Callable[[SMTPSettings, list[EmailMessage]], Callable[[], None]]

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

AGENDA = (
    "Summer get-together of the whole company on the roof terrace. 16:00 welcome and drinks, "
    "16:30 short words from the board, 17:00 mixed tables for dinner (your table is on the "
    "card at the entrance), 19:00 games and music, 21:00 end. Vegetarian and vegan food is "
    "served at every table; tell us about allergies when you answer. The terrace is step-free "
    "and reachable by the lift in building B. If it rains we move to the canteen on the ground "
    "floor. Partners are not included this time, sorry. Please answer by June 4 so that the "
    "caterer can plan; you can change your answer until June 11 with the same link."
)


def fold(line: str) -> str:
    """Fold an iCalendar content line at 75 characters."""
    parts = [line[:75]] + [" " + line[i:i + 74] for i in range(75, len(line), 74)]
    return "\r\n".join(parts)


def calendar(number: int, name: str, address: str) -> str:
    """An iTIP REQUEST of about 3 KB for one invitee."""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Team Planner//bench//EN", "METHOD:REQUEST",
        *VTIMEZONE.splitlines(),
        "BEGIN:VEVENT",
        f"UID:event-42-invite-{number}@planner.example.org",
        "SEQUENCE:0", "STATUS:CONFIRMED", "DTSTAMP:20270520T090000Z", "CREATED:20270520T085512Z",
        "LAST-MODIFIED:20270520T085512Z", "CLASS:PUBLIC", "PRIORITY:5", "TRANSP:OPAQUE",
        "CATEGORIES:Team event,Summer", "GEO:52.520008;13.404954",
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "X-MICROSOFT-DISALLOW-COUNTER:TRUE",
        "DTSTART;TZID=Europe/Berlin:20270618T180000", "DTEND;TZID=Europe/Berlin:20270618T230000",
        "SUMMARY:Summer party on the roof terrace",
        "LOCATION:Roof terrace\\, building B\\, Hauptstraße 5\\, Berlin",
        "DESCRIPTION:" + AGENDA.replace(",", "\\,") + "\\n\\nAnswer: https://planner.example.org/"
        f"rsvp/{number:08d}-3f9c2a7be1d04c6f8a5e",
        "X-ALT-DESC;FMTTYPE=text/html:<html><body>" + html_agenda() + "</body></html>",
        "ORGANIZER;CN=Olivia Organiser:mailto:olivia@example.org",
        "ATTENDEE;CN=Olivia Organiser;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:olivia@example.org",
        f"ATTENDEE;CN={name};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{address}",
        f"URL:https://planner.example.org/rsvp/{number:08d}-3f9c2a7be1d04c6f8a5e",
        "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Summer party", "TRIGGER:-PT30M", "END:VALARM",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(fold(line) for line in lines) + "\r\n"


def html_agenda() -> str:
    """The agenda as HTML paragraphs."""
    return "".join(f"<p>{sentence}.</p>" for sentence in AGENDA.rstrip(".").split(". "))


def invitation(number: int) -> EmailMessage:
    """A multipart/alternative invitation: text, HTML and a text/calendar REQUEST."""
    name, address = f"Zoë Müller {number}", f"zoe.mueller{number}@example.org"
    link = f"https://planner.example.org/rsvp/{number:08d}-3f9c2a7be1d04c6f8a5e"
    message = EmailMessage()
    message["From"] = f"Olivia Organiser <{SENDER}>"
    message["To"] = f"{name} <{address}>"
    message["Subject"] = "Invitation: Summer party on the roof terrace, Fri 18 June"
    message["Date"] = format_datetime(START - timedelta(days=29))
    message["Message-ID"] = f"<invite-{number}.event-42@planner.example.org>"
    text = f"Hello {name},\n\n" + textwrap.fill(AGENDA, 72) + f"\n\nYes or no: {link}\n"
    message.set_content(text)
    message.add_alternative(
        f"<!doctype html><html><body><h1>Summer party</h1><p>Hello {name},</p>{html_agenda()}"
        f'<p><a href="{link}?answer=yes">Yes</a> · <a href="{link}?answer=no">No</a></p>'
        "</body></html>",
        subtype="html",
    )
    message.add_alternative(calendar(number, name, address), subtype="calendar",
                            params={"method": "REQUEST"})
    return message


def recipient(message: EmailMessage) -> str:
    """The bare address of the message's single To."""
    return message["To"].addresses[0].addr_spec


def prebuilt(messages: list[EmailMessage]) -> list[tuple[str, bytes]]:
    """(recipient, wire bytes) for each message, as the outbox stores them."""
    return [(recipient(message), message.as_bytes(policy=WIRE_POLICY)) for message in messages]


def raw_smtplib(settings: SMTPSettings, messages: list[EmailMessage]) -> Callable[[], None]:
    """Reference: prebuilt bytes through smtplib.sendmail on one connection."""
    ready = prebuilt(messages)

    def run() -> None:
        with smtplib.SMTP(settings.host, settings.port, local_hostname="bench") as smtp:
            for address, data in ready:
                smtp.sendmail(SENDER, [address], data)
    return run


def transport_bytes(settings: SMTPSettings, messages: list[EmailMessage]) -> Callable[[], None]:
    """SMTPTransport, one connection, finished bytes (no re-encoding)."""
    ready = prebuilt(messages)

    def run() -> None:
        with SMTPTransport(settings) as transport:
            for address, data in ready:
                transport.send(data, sender=SENDER, recipients=[address])
    return run


def transport_batch(settings: SMTPSettings, messages: list[EmailMessage]) -> Callable[[], None]:
    """SMTPTransport in one `with` block: one connection, messages serialised as they go."""
    def run() -> None:
        with SMTPTransport(settings) as transport:
            for message in messages:
                transport.send(message, sender=SENDER, recipients=[recipient(message)])
    return run


def connection_per_message(settings: SMTPSettings, messages: list[EmailMessage]) -> Callable[[], None]:
    """SMTPTransport outside `with`: a new connection for every message."""
    transport = SMTPTransport(settings)

    def run() -> None:
        for message in messages:
            transport.send(message, sender=SENDER, recipients=[recipient(message)])
    return run


def bench_app(settings: SMTPSettings):
    """A planner app on a fresh SQLite file whose mail goes to the bench server."""
    folder = Path(tempfile.mkdtemp(prefix="bench-send-"))
    app = create_app({
        "SECRET_KEY": "bench", "INSTANCE_PATH": str(folder), "MAIL_TRANSPORT": "smtp",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite'}",
        "SMTP_HOST": settings.host, "SMTP_PORT": settings.port, "SMTP_TIMEOUT": 30,
    })
    with app.app_context():
        db.create_all()
    return app


def bench_events(people: list[Person], count: int = 12) -> list[Event]:
    """Events with everyone proposed, one per timed run (and the warm-up)."""
    organiser = create_organiser(db.session, "olivia@example.org", "Olivia Organiser", "bench password")
    db.session.add_all(people)
    events = []
    for number in range(count):
        event = Event(uid=f"bench-{number}@planner.example.org", kind="drinks", title="Summer party",
                      description=AGENDA, location="Roof terrace", starts_at=START, ends_at=START + timedelta(hours=5),
                      timezone="Europe/Berlin", capacity=len(people), organiser_id=organiser.id)
        event.proposals = [ProposalEntry(person=person) for person in people]
        events.append(event)
    db.session.add_all(events)
    db.session.commit()
    return events


def people_for(messages: list[EmailMessage]) -> list[Person]:
    """One directory entry per bench recipient."""
    return [Person(email=recipient(message), name=f"Person {index}", department=f"D{index % 8}", level=index % 5)
            for index, message in enumerate(messages)]


def outbox_pipeline(settings: SMTPSettings, messages: list[EmailMessage]) -> Callable[[], None]:
    """Our outbox on queued rows: claim the batch, send on one connection, record outcomes in groups."""
    app = bench_app(settings)
    ready = prebuilt(messages)
    with app.app_context():
        event_ids = [event.id for event in bench_events(people_for(messages))]
        db.session.add_all(
            OutgoingMail(message_id=f"<{event_id}-{index}@bench>", event_id=event_id, sender=SENDER,
                         recipient=address, subject="Invitation", raw=data)
            for event_id in event_ids for index, (address, data) in enumerate(ready)
        )
        db.session.commit()
    runs = iter(event_ids)

    def run() -> None:
        with app.app_context():
            report = deliver(db.session, transport_from_config(app.config), limit=len(ready), event_id=next(runs))
            assert report.sent == len(ready), report
    return run


def invite_pipeline(settings: SMTPSettings, messages: list[EmailMessage]) -> Callable[[], None]:
    """The whole send: invitations, tokens, iCalendar and MIME built per person, queued, committed, delivered."""
    app = bench_app(settings)
    with app.app_context():
        event_ids = iter([event.id for event in bench_events(people_for(messages))])
    composing = MailSettings(
        "https://planner.example.org", SENDER, "Team Planner", "planner.example.org", app.config["SECRET_KEY"], app.jinja_env
    )

    def run() -> None:
        with app.app_context():
            event = db.session.get(Event, next(event_ids))
            send_invites(db.session, event, composing)
            db.session.commit()
            report = deliver(db.session, transport_from_config(app.config), limit=len(messages), event_id=event.id)
            assert report.sent == len(messages), report
    return run


ROWS: dict[str, Row] = {
    "raw smtplib, prebuilt bytes, 1 connection (reference)": raw_smtplib,
    "SMTPTransport, stored bytes, connection reused": transport_bytes,
    "SMTPTransport, EmailMessage, connection reused": transport_batch,
    "SMTPTransport, EmailMessage, connection per message": connection_per_message,
    "outbox: claim queued rows, send, record outcomes (SQLite)": outbox_pipeline,
    "whole pipeline: send_invites builds each mail, outbox sends": invite_pipeline,
}


@dataclass(frozen=True)
class Result:
    """The median of the repeats for one row."""

    label: str
    per_second: float
    cpu_ms: float  # this process's CPU time per message (the server's is not counted)
    connections: int


def serve(connection: Connection) -> None:
    """Child process: run the test SMTP server and answer "clear" and "counts" until "stop"."""
    with SMTPServer() as server:
        connection.send(server.port)
        while (command := connection.recv()) != "stop":
            if command == "clear":
                server.clear()
            connection.send((len(server.messages), server.connections))


class ServerProcess:
    """The test SMTP server in its own process, so that it does not share our GIL (like a real MTA)."""

    def __enter__(self) -> ServerProcess:
        self._connection, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=serve, args=(child,), daemon=True)
        self._process.start()
        self.port = self._connection.recv()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._connection.send("stop")
        self._process.join(timeout=10)

    def ask(self, command: str) -> tuple[int, int]:
        """Send "clear" or "counts"; get (messages received, connections accepted)."""
        self._connection.send(command)
        return self._connection.recv()


def measure(rows: Mapping[str, Row], count: int, repeat: int) -> list[Result]:
    """Time every row against one local server, rows taking turns; each run must deliver all messages."""
    messages = [invitation(number) for number in range(count)]
    with ServerProcess() as server:
        settings = SMTPSettings(host="127.0.0.1", port=server.port, local_hostname="bench")
        runs = {label: row(settings, messages) for label, row in rows.items()}
        times: dict[str, list[float]] = {label: [] for label in runs}
        cpu: dict[str, list[float]] = {label: [] for label in runs}
        connections = {}
        next(iter(runs.values()))()  # warm up both processes once, untimed
        for _ in range(repeat):
            for label, run in runs.items():
                server.ask("clear")
                started, cpu_started = time.perf_counter(), time.process_time()
                run()
                times[label].append(time.perf_counter() - started)
                cpu[label].append(time.process_time() - cpu_started)
                received, connections[label] = server.ask("counts")
                if received != count:
                    raise RuntimeError(f"{label}: the server got {received} of {count} messages")
    return [Result(label, count / statistics.median(times[label]), 1000 * statistics.median(cpu[label]) / count,
                   connections[label]) for label in runs]


def print_table(results: Sequence[Result], count: int, repeat: int, size: int) -> None:
    """Messages per second, the ratio to the first (reference) row and our CPU time per message."""
    print(f"{count} messages of {size / 1024:.1f} KB, median of {repeat} runs (rows take turns); aiosmtpd in a child process")
    width = max(len(result.label) for result in results)
    print(f"{'sender':<{width}}  {'msg/s':>8}  {'vs ref':>6}  {'CPU ms/msg':>10}  {'conns':>5}")
    for result in results:
        ratio = result.per_second / results[0].per_second
        print(f"{result.label:<{width}}  {result.per_second:8.0f}  {ratio:6.2f}  {result.cpu_ms:10.2f}  {result.connections:5d}")


def main(argv: Sequence[str] | None = None, extra_rows: Mapping[str, Row] | None = None) -> None:
    """Parse arguments, run the rows (plus extra_rows, e.g. the DB outbox pipeline), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rows = {**ROWS, **(extra_rows or {})}
    size = len(invitation(0).as_bytes(policy=WIRE_POLICY))
    print_table(measure(rows, args.count, args.repeat), args.count, args.repeat, size)


if __name__ == "__main__":
    main()
