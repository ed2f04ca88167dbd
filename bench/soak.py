"""Soak: the production setup under load, with crashes, on PostgreSQL.

Runs 4 gunicorn workers (deploy/gunicorn.conf.py, set through its environment variables) and 3 outbox
workers (`flask outbox work`) against a local SMTP server in this process, sends the invitations of one
event (people and proposal made in bulk, then one send_invites through the service), and lets 32 clients
answer the RSVP pages (a GET, then a POST per answer with the page's CSRF token, 1 to 3 answers each) as the mails
arrive, with the tokens read from the delivered mails. Mid-run it kills one web worker and one outbox
worker with SIGKILL (the outbox worker is started again, as systemd's Restart=always would). At the end
it checks that every invitation holds its client's last answer, that every queued message was delivered
(at most one duplicate per killed outbox worker: the message it had in flight; each sent message is
committed at once), that none was lost, and that no request got a 5xx or a broken connection beyond the killed
web worker's in-flight request (one per killed worker: sync workers, one thread).

    PLANNER_SOAK_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_NAME \\
        .venv/bin/python bench/soak.py [--invitations 10000] [--clients 32]

The database is emptied first. Exits 1 when a check fails.
"""

import argparse
import http.client
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from planner.app import create_app  # noqa: E402
from planner.directory import search_key  # noqa: E402
from planner.extensions import db  # noqa: E402
from planner.mailer import mail_settings  # noqa: E402
from planner.models import EventKind, Invitation, MailState, OutgoingMail, Person, ProposalEntry, utcnow  # noqa: E402
from planner.services.accounts import create_organiser  # noqa: E402
from planner.services.events import EventDraft, create_event  # noqa: E402
from planner.services.invites import send_invites  # noqa: E402
from planner.tokens import hash_token  # noqa: E402
from tests.smtp_server import SMTPServer, free_port  # noqa: E402

WEB_WORKERS = 4
OUTBOX_WORKERS = 3
LEASE_SECONDS = 10
ANSWERS = ("yes", "no", "maybe")
RSVP_LINK = re.compile(rb"https?://[^/\s]+/rsvp/([A-Za-z0-9_-]+)")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.M | re.I)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
#: a bound against hanging (the run also stops by itself after --max-seconds), not a measurement
SETUP_SECONDS = 120


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last: dict[str, str] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    broken: int = 0
    posts: int = 0
    gets: int = 0
    retries: int = 0

    def saw(self, status: int | None) -> None:
        with self.lock:
            if status is None:
                self.broken += 1
            else:
                self.statuses[status] += 1


def main() -> int:
    options = parse_options()
    url = options.database_url
    if not url or not url.startswith("postgresql"):
        sys.exit("Set PLANNER_SOAK_DATABASE_URL (or --database-url) to a PostgreSQL database the soak may empty.")
    work = Path(tempfile.mkdtemp(prefix="planner-soak-"))
    port = free_port()
    smtp = SMTPServer().start()
    environment = {
        **os.environ,
        "PLANNER_SQLALCHEMY_DATABASE_URI": url,
        "PLANNER_SECRET_KEY": "soak-secret-key",
        "PLANNER_INSTANCE_PATH": str(work / "instance"),
        "PLANNER_BASE_URL": f"http://127.0.0.1:{port}",
        "PLANNER_MAIL_TRANSPORT": "smtp",
        "PLANNER_SMTP_HOST": smtp.host,
        "PLANNER_SMTP_PORT": str(smtp.port),
        "PLANNER_MAIL_SEND_AFTER_COMMIT": "false",
        "PLANNER_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "PLANNER_BIND": f"127.0.0.1:{port}",
        "PLANNER_WORKERS": str(WEB_WORKERS),
        "PLANNER_ACCESS_LOG": str(work / "access.log"),
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    empty_database(url, work)
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=environment, check=True, capture_output=True)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    web = subprocess.Popen([gunicorn, "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=environment,
                           stdout=subprocess.DEVNULL, stderr=open(work / "gunicorn.log", "w"))
    outbox_command = [*flask, "outbox", "work", "--interval", "0.5"]
    outbox_log = open(work / "outbox.log", "w")
    workers = [subprocess.Popen(outbox_command, cwd=ROOT, env=environment, stdout=outbox_log, stderr=outbox_log)
               for _ in range(OUTBOX_WORKERS)]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "soak-secret-key", "INSTANCE_PATH": str(work / "instance"),
                      "BASE_URL": f"http://127.0.0.1:{port}", "MAIL_TRANSPORT": "smtp"})
    try:
        wait_until(lambda: healthy(port), "the web app answering", SETUP_SECONDS)
        with app.app_context():
            kills = {"web": 0, "outbox": 0, "web_at": None, "outbox_at": None}
            killer = threading.Thread(target=kill_an_outbox_worker, daemon=True,
                                      args=(options, smtp, workers, kills, outbox_command, environment, outbox_log))
            killer.start()
            started = time.monotonic()
            message_ids = send(options.invitations)
            queued_seconds = time.monotonic() - started
            tally = run_clients(options, port, smtp, web, kills)
            killer.join(options.max_seconds)
            wait_until(lambda: all_sent(), "every message sent", options.max_seconds)
            elapsed = time.monotonic() - started
            return report(options, tally, kills, smtp, message_ids, queued_seconds, elapsed)
    finally:
        for process in [web, *workers]:
            stop(process)
        smtp.stop()


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invitations", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--database-url", default=os.environ.get("PLANNER_SOAK_DATABASE_URL"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=1800, help="Give up (and fail) after this long.")
    return parser.parse_args()


def empty_database(url: str, work: Path) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(work / "reset"), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    with app.app_context():
        db.engine.dispose()


def send(count: int) -> set[str]:
    """Create count people and an event proposing them all in bulk, then send its invitations once; return the Message-IDs."""
    organiser = create_organiser(db.session, "soak@example.com", "Soak Organiser", "a long soak password")
    day = date.today() + timedelta(days=30)
    draft = EventDraft(EventKind.LUNCH, "Soak lunch", "", "Canteen", day, clock(12), clock(13), "Europe/Berlin", count,
                       datetime.combine(day - timedelta(days=1), clock(12)))
    event = create_event(db.session, organiser.id, draft, "soak.example.com")
    now = utcnow()
    rows = [{"email": f"p{i}@soak.example.com", "name": f"Person {i}", "department": f"D{i % 12}", "level": i % 5,
             "is_active": True, "is_opted_out": False, "created_at": now, "updated_at": now,
             "search_key": search_key(f"Person {i}", f"p{i}@soak.example.com")} for i in range(count)]
    db.session.execute(insert(Person), rows)
    ids = db.session.scalars(select(Person.id).order_by(Person.id)).all()
    db.session.execute(insert(ProposalEntry), [{"event_id": event.id, "person_id": pid, "reason": "soak", "is_must": False}
                                                for pid in ids])
    db.session.commit()
    db.session.refresh(event)
    queued = send_invites(db.session, event, mail_settings())
    db.session.commit()
    return {mail.message_id for mail in queued}


def kill_an_outbox_worker(options, smtp, workers, kills, outbox_command, environment, outbox_log) -> None:
    """SIGKILL an outbox worker while the mail is going out (a quarter delivered), then start it again."""
    deadline = time.monotonic() + options.max_seconds
    while len(smtp.messages) < options.invitations // 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    kills.update(outbox=1, outbox_at=len(smtp.messages))
    workers[0] = subprocess.Popen(outbox_command, cwd=ROOT, env=environment, stdout=outbox_log, stderr=outbox_log)


def run_clients(options, port, smtp, web, kills):
    """Let the clients answer every invitation as its mail arrives; kill a web and an outbox worker on the way."""
    tally = Tally()
    queues = [[] for _ in range(options.clients)]
    conditions = [threading.Condition() for _ in range(options.clients)]
    finished = threading.Event()

    def dispatch():
        seen, position, shown = set(), 0, time.monotonic()
        deadline = time.monotonic() + options.max_seconds
        while len(tally.last) < options.invitations and time.monotonic() < deadline:
            arrived = smtp.messages[position:]  # a snapshot: the server may append meanwhile
            position += len(arrived)
            for received in arrived:
                token = rsvp_token(received)
                if token not in seen:
                    seen.add(token)
                    slot = hash(token) % options.clients
                    with conditions[slot]:
                        queues[slot].append(token)
                        conditions[slot].notify()
            answered = len(tally.last)
            if kills["web"] == 0 and answered >= options.invitations * 3 // 10:
                os.kill(web_worker_pids(web.pid)[0], signal.SIGKILL)
                kills.update(web=1, web_at=answered)
            if time.monotonic() - shown > 30:
                shown = time.monotonic()
                print(f"soak: {position} delivered, {answered} answered, {tally.gets} GET, {tally.posts} POST", file=sys.stderr)
            time.sleep(0.05)
        finished.set()
        for condition in conditions:
            with condition:
                condition.notify()

    def client(slot: int):
        rng = random.Random(options.seed * 1000 + slot)
        cookies: dict[str, str] = {}
        while True:
            with conditions[slot]:
                while not queues[slot] and not finished.is_set():
                    conditions[slot].wait(0.5)
                if not queues[slot]:
                    return
                token = queues[slot].pop(0)
            csrf = None
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                answer = rng.choice(ANSWERS)
                while True:
                    csrf = csrf or page_token(port, token, cookies, tally)
                    if csrf is not None and post_answer(port, token, answer, csrf, cookies, tally):
                        break
                    csrf = None
                    with tally.lock:
                        tally.retries += 1
                    time.sleep(0.2)
                with tally.lock:
                    tally.last[token] = answer

    threads = [threading.Thread(target=client, args=(slot,), daemon=True) for slot in range(options.clients)]
    dispatcher = threading.Thread(target=dispatch, daemon=True)
    for thread in [dispatcher, *threads]:
        thread.start()
    for thread in [dispatcher, *threads]:
        thread.join(options.max_seconds)
    return tally


def rsvp_token(received) -> str:
    """Return the RSVP token of a delivered invitation (from the raw text, or from its decoded plain part)."""
    match = RSVP_LINK.search(received.data.replace(b"=\r\n", b"").replace(b"=\n", b""))
    if match is None:
        plain = received.message.get_body(preferencelist=("plain",)).get_content().encode()
        match = RSVP_LINK.search(plain)
    return match.group(1).decode()


def page_token(port: int, token: str, cookies: dict, tally: Tally) -> str | None:
    """GET the RSVP page as its invitee does; return the CSRF token of its form, or None when the request failed."""
    status, body, _ = request(port, "GET", f"/rsvp/{token}", None, cookies)
    tally.saw(status)
    with tally.lock:
        tally.gets += 1
    return CSRF.search(body).group(1) if status == 200 else None


def post_answer(port: int, token: str, answer: str, csrf: str, cookies: dict, tally: Tally) -> bool:
    """POST an answer with the page's CSRF token; return whether it was saved (303)."""
    status, _, _ = request(port, "POST", f"/rsvp/{token}", urlencode({"csrf_token": csrf, "answer": answer}), cookies)
    tally.saw(status)
    with tally.lock:
        tally.posts += 1
    return status == 303


def request(port: int, method: str, path: str, body: str | None, cookies: dict):
    """One HTTP request on a new connection; (None, '', {}) when the connection broke."""
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return response.status, data, response.headers
    except (OSError, http.client.HTTPException):
        return None, "", {}
    finally:
        connection.close()


def web_worker_pids(master: int) -> list[int]:
    """Return the pids of the gunicorn master's worker processes (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry.name))
    return sorted(children)


def all_sent() -> bool:
    db.session.rollback()
    return not db.session.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.state != MailState.SENT))


def report(options, tally: Tally, kills: dict, smtp: SMTPServer, message_ids: set[str], queued_seconds: float,
           elapsed: float) -> int:
    """Check the outcome and print the counts; return the exit code."""
    db.session.rollback()
    queued = set(db.session.scalars(select(OutgoingMail.message_id)))
    received = Counter(MESSAGE_ID.search(m.data).group(1).decode() for m in smtp.messages)
    stored = dict(db.session.execute(select(Invitation.token_hash, Invitation.answer)).all())
    wrong = sum(1 for token, answer in tally.last.items() if stored.get(hash_token(token)) != answer)
    unanswered = len(stored) - len(tally.last)
    duplicates = sum(count - 1 for count in received.values())
    lost = len(queued - set(received))
    duplicate_bound = kills["outbox"]  # the message in flight when the worker died
    server_errors = sum(count for status, count in tally.statuses.items() if status >= 500)
    broken_bound = kills["web"]  # one in-flight request per killed sync worker
    checks = [
        ("invitations", len(stored), options.invitations, len(stored) == options.invitations),
        ("invitation mails queued by the send", len(message_ids), options.invitations, len(message_ids) == options.invitations),
        ("messages queued in all", len(queued), "", True),
        ("messages delivered (distinct Message-IDs)", len(set(received) & queued), len(queued), lost == 0),
        ("messages lost", lost, 0, lost == 0),
        ("duplicate deliveries", duplicates, f"<= {duplicate_bound}", duplicates <= duplicate_bound),
        ("invitations answered", len(tally.last), options.invitations, unanswered == 0),
        ("answers not as the client last answered", wrong, 0, wrong == 0),
        ("HTTP GET / POST", f"{tally.gets} / {tally.posts}", "", True),
        ("HTTP 5xx", server_errors, 0, server_errors == 0),
        ("broken connections", tally.broken, f"<= {broken_bound}", tally.broken <= broken_bound),
        ("answers retried after a failure", tally.retries, f"<= {broken_bound}", tally.retries <= broken_bound),
        ("web workers killed (at answers)", kills["web"], kills["web_at"], kills["web"] == 1),
        ("outbox workers killed (at messages)", kills["outbox"], kills["outbox_at"], kills["outbox"] == 1),
    ]
    print(f"Soak: {options.invitations} invitations, {options.clients} clients, {WEB_WORKERS} gunicorn workers, "
          f"{OUTBOX_WORKERS} outbox workers (lease {LEASE_SECONDS} s), PostgreSQL")
    print(f"send_invites committed in {queued_seconds:.1f} s; "
          f"everything delivered and answered {elapsed:.1f} s after the send began")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    width = max(len(name) for name, *_ in checks)
    print(f"{'check':<{width}}  {'count':>14}  {'expected':>10}  ok")
    for name, count, expected, ok in checks:
        print(f"{name:<{width}}  {count!s:>14}  {expected!s:>10}  {'yes' if ok else 'NO'}")
    failed = [name for name, *_, ok in checks if not ok]
    print("all checks pass" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


def healthy(port: int) -> bool:
    status, _, _ = request(port, "GET", "/healthz", None, {})
    return status == 200


def wait_until(condition, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"soak: no {what} within {seconds} s")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
