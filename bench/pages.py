"""The main pages' time and size at 1k, 10k and 50k people, beside a trivial logged-in page in the same run.

    python bench/pages.py [--sizes 1000,10000,50000] [--runs 5] [--only clicks]

Each directory is built with bulk inserts in a fresh SQLite file; every page is requested through
the test client (median of --runs; wall time, and this process's CPU time, which moves least on a
busy machine). Goal: every page at most 10x the trivial page at 50k people, and none over 1 MB.
The propose click (POST, a new proposal of 100) is timed too, with the solver's own time
(plan_columns on the same pool) beside it, and so is the replace click (POST, one person swapped).
--only clicks times the trivial page and the two clicks alone (the quickest look at the solver's pages).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

from planner.app import create_app  # noqa: E402
from planner.extensions import db  # noqa: E402
from planner.models import (  # noqa: E402
    Answer,
    Event,
    EventKind,
    EventStatus,
    Invitation,
    Person,
    ProposalEntry,
    Seat,
    SeatingPlan,
    Series,
    utcnow,
)
from planner.rounds import plan_columns  # noqa: E402
from planner.services import planning  # noqa: E402
from planner.services.accounts import create_organiser  # noqa: E402
from planner.tokens import new_token  # noqa: E402

PASSWORD = "bench password 1234"
TRIVIAL = "/events/new"


def build(size: int, organiser_id: int) -> dict:
    """Fill the directory and the events the pages show; return each page's URL and the draft's id."""
    now = utcnow().replace(microsecond=0)
    db.session.execute(insert(Person), [
        {"email": f"p{i}@example.com", "name": f"Person {i}", "department": f"Dept {i % 12}", "level": i % 5,
         "search_key": f"person {i} p{i}@example.com", "is_active": True, "is_opted_out": False,
         "joined_on": date(2020, 1, 1) + timedelta(days=i % 1500), "created_at": now, "updated_at": now}
        for i in range(size)
    ])
    ids = list(db.session.scalars(select(Person.id).order_by(Person.id)))

    def event(status, days, series_id=None, capacity=500):
        starts = now + timedelta(days=days)
        row = Event(uid=f"{uuid.uuid4()}@bench", kind=EventKind.LUNCH, title="Lunch", starts_at=starts,
                    ends_at=starts + timedelta(hours=1), timezone="Europe/Berlin", capacity=capacity, status=status,
                    organiser_id=organiser_id, series_id=series_id, occurrence_on=starts.date() if series_id else None,
                    sent_at=None if status == EventStatus.DRAFT else now)
        db.session.add(row)
        db.session.flush()
        return row

    def invite(row, people, answers=(Answer.YES,)):
        tokens = [new_token() for _ in people]
        db.session.execute(insert(Invitation), [
            {"event_id": row.id, "person_id": person, "token_hash": hashed, "answer": answers[n % len(answers)],
             "answered_at": now, "created_at": min(now, row.starts_at), "is_no_show": False}
            for n, (person, (_, hashed)) in enumerate(zip(people, tokens, strict=True))
        ])
        db.session.execute(insert(ProposalEntry), [
            {"event_id": row.id, "person_id": person, "reason": "never invited", "is_must": False} for person in people
        ])
        return [token for token, _ in tokens]

    sent = event(EventStatus.SENT, 7)
    tokens = invite(sent, ids[:500], (Answer.YES, Answer.PENDING, Answer.NO, Answer.MAYBE))
    seated = ids[:500:4][:200]
    settings = {"mode": "tables", "min_size": 6, "max_size": 8, "sizes": [], "w_department": 1.0, "w_level": 0.5,
                "w_new": 1.0, "include_maybe": False, "limits": [[6, 8]] * 25, "recovery_days": 182}
    plan = SeatingPlan(event_id=sent.id, seed=0, settings=json.dumps(settings), published_at=now)
    db.session.add(plan)
    db.session.flush()
    db.session.execute(insert(Seat), [{"plan_id": plan.id, "person_id": p, "table_index": n // 8} for n, p in enumerate(seated)])
    draft = event(EventStatus.DRAFT, 14, capacity=100)
    db.session.execute(insert(ProposalEntry), [
        {"event_id": draft.id, "person_id": p, "reason": "never invited", "is_must": False} for p in ids[500:600]
    ])
    series = Series(kind=EventKind.LUNCH, title="Monthly lunch", capacity=20, start_time=clock(12), end_time=clock(13),
                    timezone="Europe/Berlin", rrule="FREQ=MONTHLY", starts_on=date.today(), organiser_id=organiser_id)
    db.session.add(series)
    db.session.flush()
    for n in range(6):
        invite(event(EventStatus.SENT, -30 * (n + 1), series.id, capacity=20), ids[600 + 20 * n:620 + 20 * n])
    db.session.commit()
    return {
        "urls": {
            "trivial": TRIVIAL, "people": "/people/", "person": f"/people/{ids[0]}", "event draft": f"/events/{draft.id}",
            "event sent (500)": f"/events/{sent.id}", "seating (200)": f"/events/{sent.id}/seating",
            "rsvp (published plan)": f"/rsvp/{tokens[0]}", "series": f"/series/{series.id}",
        },
        "draft": draft.id,
    }


def timed(client, method: str, url: str, runs: int) -> tuple[float, int]:
    """Return the median wall and CPU seconds of a request and its body size in bytes."""
    times, cpu, size = [], [], 0
    for _ in range(runs):
        start, started = time.perf_counter(), time.process_time()
        response = getattr(client, method)(url)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - started)
        assert response.status_code in (200, 302, 303), (url, response.status_code)
        size = len(response.data)
    return statistics.median(times), statistics.median(cpu), size


def replace_time(app, client, event_id: int, runs: int) -> tuple[float, int]:
    """Return the median wall and CPU seconds of the replace click (POST, one person swapped) and its body size."""
    times, cpu, size = [], [], 0
    for _ in range(runs):
        with app.app_context():
            person_id = db.session.scalar(
                select(ProposalEntry.person_id).where(ProposalEntry.event_id == event_id, ProposalEntry.is_must.is_(False))
                .order_by(ProposalEntry.id)
            )
        start, started = time.perf_counter(), time.process_time()
        response = client.post(f"/events/{event_id}/replace", data={"person_id": str(person_id)})
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - started)
        assert response.status_code in (302, 303), (event_id, response.status_code)
        size = len(response.data)
    return statistics.median(times), statistics.median(cpu), size


def solver_time(event_id: int, runs: int) -> float:
    """Return the median wall and CPU seconds of plan_columns alone on the draft's pool."""
    event = db.session.get(Event, event_id)
    now = utcnow()
    pool, _ = planning.proposal_pool(db.session, event, now, [], lookback_days=180)
    turns = planning.turn_history(db.session, pool, now, event)
    times, cpu = [], []
    for _ in range(runs):
        start, started = time.perf_counter(), time.process_time()
        plan_columns(pool, event.capacity, today=now.date(), invited_on=turns.invited_on, met_on=turns.met_on,
                   joined_on=turns.joined_on, seed=0)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - started)
    return statistics.median(times), statistics.median(cpu)


def bench(size: int, runs: int, folder: str, only_clicks: bool = False) -> list[tuple]:
    """Build one directory of size people and time every page (or the trivial one and the clicks); return the table rows."""
    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/pages-{size}.sqlite",
        "INSTANCE_PATH": f"{folder}/instance", "MAIL_MAILBOX_DIR": f"{folder}/mailbox", "BASE_URL": "http://planner.test",
        "WTF_CSRF_ENABLED": False,
    })
    rows = []
    with app.app_context():
        db.create_all()
        organiser = create_organiser(db.session, "bench@example.com", "Bench", PASSWORD)
        db.session.commit()
        start = time.perf_counter()
        data = build(size, organiser.id)
        built = time.perf_counter() - start
    # requests run outside this app context: each gets its own (and its own session), as in production
    client = app.test_client()
    client.post("/auth/login", data={"email": "bench@example.com", "password": PASSWORD})
    # the reference is the median of five times as many runs: a busy machine's spikes move it least
    urls = {"trivial": TRIVIAL} if only_clicks else data["urls"]
    timings = {name: timed(client, "get", url, runs * 5 if name == "trivial" else runs) for name, url in urls.items()}
    timings["propose click"] = timed(client, "post", f"/events/{data['draft']}/propose", runs)
    timings["replace click"] = replace_time(app, client, data["draft"], runs)
    with app.app_context():
        solver = solver_time(data["draft"], runs)
        db.engine.dispose()
    trivial, trivial_cpu = timings["trivial"][:2]
    for name, (seconds, cpu, length) in [*timings.items(), ("  solver (plan_columns)", (*solver, 0))]:
        rows.append((size, name, seconds, seconds / trivial, cpu, cpu / trivial_cpu, length))
    print(f"# {size} people built in {built:.1f} s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["clicks"], help="time only the trivial page and the two clicks")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(part) for part in args.sizes.split(",")):
            rows += bench(size, args.runs, folder, args.only == "clicks")
    print(f"{'people':>7} {'page':24} {'ms':>9} {'x trivial':>10} {'CPU ms':>9} {'x (CPU)':>8} {'KB':>8}")
    for size, name, seconds, ratio, cpu, cpu_ratio, length in rows:
        print(f"{size:>7} {name:24} {seconds * 1000:9.1f} {ratio:10.1f} {cpu * 1000:9.1f} {cpu_ratio:8.1f} {length / 1024:8.1f}")
    largest = max(size for size, *_ in rows)
    at_largest = [row for row in rows if row[0] == largest and row[1] not in ("trivial", "  solver (plan_columns)")]
    slow = [row[1] for row in at_largest if row[3] > 10]
    big = [row[1] for row in at_largest if row[-1] > 1024 * 1024]
    print(f"goal at {largest}: <= 10x trivial: {'met' if not slow else 'NOT met: ' + ', '.join(slow)}; "
          f"<= 1 MB: {'met' if not big else 'NOT met: ' + ', '.join(big)}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
