"""RSVP answers under load: the app under gunicorn (2 workers) against a bare Flask endpoint, same gunicorn, same database.

    python bench/rsvp_load.py [--clients 1000] [--concurrency 8] [--warm-up 40] [--chunk 100] [--postgres URL]

Each client GETs its RSVP page (real token) and POSTs its answer; the reference client GETs and
POSTs the bare endpoint (bench/bare_app.py: one indexed read and one insert per request). Both
servers run side by side and are measured alike: first an uncounted warm-up (--warm-up clients of
a second event, on both: a worker's first requests compile templates and SQL and cost ~0.1 s),
then the counted clients in alternating chunks (bare, app, bare, ...), so that the load other work
puts on the machine, which changes the CPU a request costs by up to 2x from one minute to the
next, falls on both alike. The table gives requests/s, p50 and p99 latency, errors, whether every
answer was stored exactly once, and the app's throughput as a share of the bare endpoint's; then
the CPU the gunicorn workers spent per request and the bare endpoint's CPU per request as a share
of it (the same ratio measured in CPU, which a busy machine distorts far less than wall-clock rates).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from planner.app import create_app  # noqa: E402
from planner.extensions import db  # noqa: E402
from planner.mailer import mail_settings  # noqa: E402
from planner.models import Answer, Event, EventKind, Invitation, Person, ProposalEntry  # noqa: E402
from planner.services.accounts import create_organiser  # noqa: E402
from planner.services.events import EventDraft, create_event  # noqa: E402
from planner.services.invites import send_invites  # noqa: E402
from planner.tokens import derived_token  # noqa: E402
from tests.gunicorn_server import Gunicorn, answer_form, request  # noqa: E402

SECRET = "bench-secret-key"


@dataclass
class Result:
    label: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    stored_once: bool
    cpu_seconds: float  #: CPU the gunicorn workers spent on the run

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request, in milliseconds."""
        return 1000 * self.cpu_seconds / self.requests

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def prepare(database_url: str, instance: Path, clients: int, warm_up: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Build a fresh schema with one sent event of `clients` invitees (half the seats) and a warm-up event of `warm_up`
    others; return the (token, hash) pairs of each."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": database_url,
                      "INSTANCE_PATH": str(instance), "MAIL_MAILBOX_DIR": str(instance / "mailbox")})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        db.create_all()
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE bare_hit (id INTEGER PRIMARY KEY "
                                    + ("GENERATED ALWAYS AS IDENTITY" if db.engine.dialect.name == "postgresql" else "")
                                    + ", invitation_id INTEGER NOT NULL)"))
        organiser = create_organiser(db.session, "bench@example.com", "Ben Bench", "correct horse battery")
        people = [Person(email=f"p{i}@example.com", name=f"Person {i}", department=f"D{i % 5}", level=i % 4)
                  for i in range(clients + warm_up)]
        db.session.add_all(people)
        pairs = [_sent_event(organiser, title, group, capacity)
                 for title, group, capacity in (("Load lunch", people[:clients], clients // 2),
                                                ("Warm-up lunch", people[clients:], warm_up // 2))]
        db.session.remove()
        db.engine.dispose()
    return pairs[0], pairs[1]


def _sent_event(organiser, title: str, people: list[Person], capacity: int) -> list[tuple[str, str]]:
    """Create and send a lunch inviting `people`; return its invitations' (token, hash) pairs."""
    day = date.today() + timedelta(days=14)
    draft = EventDraft(kind=EventKind.LUNCH, title=title, description="", location="Canteen", day=day,
                       start=datetime.strptime("12:00", "%H:%M").time(), end=datetime.strptime("13:00", "%H:%M").time(),
                       timezone="Europe/Berlin", capacity=capacity, rsvp_deadline=None)
    event = create_event(db.session, organiser.id, draft, "planner.bench")
    for person in people:
        event.proposals.append(ProposalEntry(person=person, reason="bench"))
    send_invites(db.session, event, mail_settings())
    db.session.commit()
    return [(derived_token(SECRET, inv.token_seed), inv.token_hash) for inv in event.invitations]


def timed(port, method, path, body=None, cookie=None):
    start = time.perf_counter()
    status, headers, page = request(port, method, path, body, cookie)
    return time.perf_counter() - start, status, headers, page


def rsvp_client(port: int, token: str) -> list[tuple[float, bool]]:
    """GET the page, POST yes: [(latency, ok), ...]."""
    seconds, status, headers, page = timed(port, "GET", f"/rsvp/{token}")
    if status != 200:
        return [(seconds, False)]
    cookie, body = answer_form(headers, page, "yes")
    posted, status, _, _ = timed(port, "POST", f"/rsvp/{token}", body, cookie)
    return [(seconds, True), (posted, status == 303)]


def bare_client(port: int, token_hash: str) -> list[tuple[float, bool]]:
    """GET and POST the bare endpoint."""
    return [(seconds, status == 200) for seconds, status, _, _ in
            (timed(port, "GET", f"/bare/{token_hash}"), timed(port, "POST", f"/bare/{token_hash}", ""))]


def load(server: Gunicorn, client, keys, concurrency) -> tuple[list[tuple[float, bool]], float, float]:
    """Run the clients on `keys`: (samples, wall seconds, worker CPU seconds)."""
    cpu, start = server.worker_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(lambda key: client(server.port, key), keys))
    return [sample for run in runs for sample in run], time.perf_counter() - start, server.worker_cpu_seconds() - cpu


def stored(database_url: str, clients: int) -> tuple[bool, bool]:
    """Whether every client's answer is stored once (half seated, half waiting) and every bare insert once."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": database_url,
                      "INSTANCE_PATH": tempfile.mkdtemp()})
    with app.app_context():
        event_id = db.session.scalar(select(Event.id).where(Event.title == "Load lunch"))
        counts = dict(db.session.execute(select(Invitation.answer, func.count()).where(Invitation.event_id == event_id)
                                         .group_by(Invitation.answer)).all())
        answers = counts == {Answer.YES: clients // 2, Answer.WAITLIST: clients - clients // 2}
        hits = db.session.execute(text("SELECT COUNT(*), COUNT(DISTINCT invitation_id) FROM bare_hit JOIN invitation "
                                       "ON invitation.id = bare_hit.invitation_id WHERE invitation.event_id = :e"),
                                  {"e": event_id}).one()
        db.engine.dispose()
    return answers, tuple(hits) == (2 * clients, clients)


def run(backend: str, database_url: str, clients: int, concurrency: int, warm_up: int, chunk: int) -> list[Result]:
    """Start both servers, warm both up alike, then measure them in alternating chunks of clients."""
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        database_url = database_url or f"sqlite:///{instance / 'bench.sqlite'}"
        counted, warming = prepare(database_url, instance, clients, warm_up)
        rows = (("bare endpoint", "bench.bare_app:app", bare_client, 1), ("RSVP GET+POST", "wsgi:app", rsvp_client, 0))
        servers = []
        try:
            for _, target, _, _ in rows:
                servers.append(Gunicorn(target, database_url, instance, secret=SECRET, workers=2, BARE_DATABASE_URI=database_url))
            for server, (_, _, client, side) in zip(servers, rows):
                load(server, client, [pair[side] for pair in warming], concurrency)
            totals = [([], 0.0, 0.0) for _ in rows]
            for first in range(0, clients, chunk):
                for index, (server, (_, _, client, side)) in enumerate(zip(servers, rows)):
                    keys = [pair[side] for pair in counted[first:first + chunk]]
                    samples, seconds, cpu = load(server, client, keys, concurrency)
                    totals[index] = (totals[index][0] + samples, totals[index][1] + seconds, totals[index][2] + cpu)
        finally:
            for server in servers:
                server.close()
        answers, hits = stored(database_url, clients)
        return [Result(f"{backend}: {label}", len(samples), seconds, [s for s, _ in samples], sum(not ok for _, ok in samples),
                       once, cpu)
                for (label, *_), (samples, seconds, cpu), once in zip(rows, totals, (hits, answers))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=40, help="uncounted clients (of another event) first, on both servers")
    parser.add_argument("--chunk", type=int, default=100, help="counted clients per turn; the servers take turns")
    parser.add_argument("--postgres", default=os.environ.get("PLANNER_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    if args.warm_up < 2:
        parser.error("--warm-up needs at least 2 clients (its event seats half of them)")
    backends = [("SQLite WAL", "")] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    print(f"{args.clients} clients ({args.warm_up} uncounted first), {args.concurrency} at a time, in turns of "
          f"{args.chunk}, gunicorn 2 workers")
    print(f"{'row':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'stored once':>12} {'vs bare':>8} "
          f"{'CPU ms/req':>11} {'bare/CPU':>9}")
    for backend, url in backends:
        bare, app = run(backend, url, args.clients, args.concurrency, args.warm_up, args.chunk)
        for result in (bare, app):
            latencies = sorted(result.latencies)
            p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            print(f"{result.label:<30} {result.rate:>8.0f} {statistics.median(latencies) * 1000:>8.1f} {p99 * 1000:>8.1f} "
                  f"{result.errors:>7} {'yes' if result.stored_once else 'NO':>12} {result.rate / bare.rate:>8.2f} "
                  f"{result.cpu_ms:>11.2f} {bare.cpu_ms / result.cpu_ms if result.cpu_ms else 0:>9.2f}")


if __name__ == "__main__":
    main()
