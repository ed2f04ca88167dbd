"""Importing a staff CSV of 50,000 rows beside a bare csv + executemany script, each in its own subprocess.

    python bench/import.py [--rows 50000] [--runs 3] [--url postgresql+psycopg://user@host/database]

Two imports into a fresh directory (a new SQLite file, or with --url an emptied schema of that
PostgreSQL database): the first (every row new) and a second of the same file with a tenth of the
rows changed (read, compare, update). The app's import is the `flask people import` path:
read_people_csv (validation) then write_rows and a commit. The bare script reads the file with csv
and writes it with one sqlite3 or psycopg executemany (an upsert on the e-mail) into the same person
table as the app's (its columns and indexes, created from the models): the same rows, search_key and
the timestamps included. Time (wall clock, and the process's CPU time; the two scripts' runs
interleaved) and the tracemalloc peak (a separate, traced run) cover the import only, not the
interpreter or the imports; max RSS is the whole process. Goal: the app at most 4x the bare script
in time and at most 2x in peak memory.
"""

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the schema of the --url database each run empties and writes into
PG_SCHEMA = "import_bench"

APP = r"""
import json, os, resource, sys, time, tracemalloc
from planner.app import create_app
from planner.directory import read_people_csv
from planner.extensions import db
from planner.services.people import write_rows

url, instance, files = sys.argv[1], sys.argv[2], sys.argv[3:]
TRACE = bool(os.environ.get("BENCH_TRACE"))
app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance})
results = []
with app.app_context():
    db.create_all()
    for path in files:
        data = open(path, "rb").read()
        if TRACE:
            tracemalloc.start()
        start, cpu = time.perf_counter(), time.process_time()
        staff = read_people_csv(data, app.config["LEVELS"])
        read = time.perf_counter() - start
        write_rows(db.session, staff.rows, deactivate_missing=False)
        db.session.commit()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        db.session.remove()
        results.append({"seconds": seconds, "cpu": cpu, "read": read, "peak": peak})
print(json.dumps({"runs": results, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

BARE = r"""
import csv, io, json, os, resource, sys, time, tracemalloc
from datetime import datetime, timezone
url, files = sys.argv[1], sys.argv[3:]
TRACE = bool(os.environ.get("BENCH_TRACE"))
if url.startswith("sqlite:///"):
    import sqlite3
    connection, mark = sqlite3.connect(url.removeprefix("sqlite:///")), "?"
else:
    import psycopg
    connection, mark = psycopg.connect(url.replace("+psycopg", "")), "%s"
for ddl in json.loads(os.environ["BENCH_SCHEMA"]):
    connection.execute(ddl)
connection.commit()
results = []
for path in files:
    data = open(path, "rb").read()
    if TRACE:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime()) if mark == "?" else datetime.now(timezone.utc)
    rows = [(r["email"].lower(), r["name"], r["department"], int(r["level"]), r["joined_on"] or None, r["active"] != "no",
             False, f"{r['name'].lower()} {r['email'].lower()}", now, now)
            for r in csv.DictReader(io.StringIO(data.decode("utf-8")))]
    connection.cursor().executemany(
        "INSERT INTO person (email, name, department, level, joined_on, is_active, is_opted_out, search_key, created_at, "
        f"updated_at) VALUES ({', '.join([mark] * 10)}) "
        "ON CONFLICT(email) DO UPDATE SET name = excluded.name, department = excluded.department, level = excluded.level, "
        "joined_on = excluded.joined_on, is_active = excluded.is_active, search_key = excluded.search_key, "
        "updated_at = excluded.updated_at", rows)
    connection.commit()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    results.append({"seconds": seconds, "cpu": cpu, "read": 0.0, "peak": peak})
print(json.dumps({"runs": results, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def staff_csv(rows: int, changed_every: int = 0) -> bytes:
    """Return a staff CSV; with changed_every, every n-th person has moved department."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", "department", "level", "joined_on", "active"])
    for i in range(rows):
        department = f"Dept {(i + 1) % 12 if changed_every and i % changed_every == 0 else i % 12}"
        joined = f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}"
        writer.writerow([f"person{i}@example.com", f"Person Number {i}", department, i % 5, joined, "yes"])
    return out.getvalue().encode()


def person_schema(url: str) -> str:
    """Return, as JSON, the statements that create the app's person table and its indexes in the url's database."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import make_url
    from sqlalchemy.schema import CreateIndex, CreateTable

    from planner.models import Person

    table = Person.__table__
    statements = [CreateTable(table)] + [CreateIndex(index) for index in sorted(table.indexes, key=lambda index: index.name)]
    dialect = make_url(url).get_dialect()()
    return json.dumps([str(statement.compile(dialect=dialect)) for statement in statements])


def fresh_database(url: str | None, folder: str, name: str) -> str:
    """Return the URL of an empty database: a new SQLite file, or the PostgreSQL database with its bench schema emptied."""
    if url is None:
        return f"sqlite:///{os.path.join(folder, name)}.sqlite"
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        connection.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{PG_SCHEMA}"


def run(script: str, args: argparse.Namespace, folder: str, files: list[str], name: str, trace: bool = False) -> dict:
    """Run one script in a fresh process on a fresh database (traced: memory, else time); return its measurements."""
    database = fresh_database(args.url, folder, name)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_TRACE": "1" if trace else "", "BENCH_SCHEMA": args.schema}
    command = [sys.executable, "-c", script, database, os.path.join(folder, name + ".i"), *files]
    out = subprocess.run(command, capture_output=True, env=env, cwd=ROOT, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="a PostgreSQL database (postgresql+psycopg://...) instead of SQLite files; "
                        f"each run empties its schema {PG_SCHEMA}")
    args = parser.parse_args()
    args.schema = person_schema(args.url or "sqlite://")
    with tempfile.TemporaryDirectory() as folder:
        files = [os.path.join(folder, "first.csv"), os.path.join(folder, "changed.csv")]
        Path(files[0]).write_bytes(staff_csv(args.rows))
        Path(files[1]).write_bytes(staff_csv(args.rows, changed_every=10))
        scripts = (("bare", BARE), ("app", APP))
        measured = {label: [] for label, _ in scripts}
        for n in range(args.runs):  # interleaved, so that a change in the machine's load falls on both
            for label, script in scripts:
                measured[label].append(run(script, args, folder, files, f"{label}-{n}"))
        traced = {label: run(script, args, folder, files, f"{label}-traced", trace=True) for label, script in scripts}

    def median(label, step, key):
        if key == "peak":
            return traced[label]["runs"][step]["peak"]
        return statistics.median(result["runs"][step][key] for result in measured[label])

    print(f"{args.rows} rows, median of {args.runs} processes, {'PostgreSQL' if args.url else 'SQLite'}")
    print(f"{'import':22} {'bare s':>8} {'app s':>8} {'(validation)':>13} {'x':>6} {'cpu x':>6} "
          f"{'bare MB':>8} {'app MB':>8} {'x':>6}")
    ratios = []
    for step, name in enumerate(("first (all new)", "again (10% changed)")):
        bare, app = median("bare", step, "seconds"), median("app", step, "seconds")
        cpu = median("app", step, "cpu") / median("bare", step, "cpu")
        bare_mb, app_mb = median("bare", step, "peak") / 2**20, median("app", step, "peak") / 2**20
        ratios.append((app / bare, app_mb / bare_mb))
        print(f"{name:22} {bare:8.2f} {app:8.2f} {median('app', step, 'read'):13.2f} {app / bare:6.1f} {cpu:6.1f} "
              f"{bare_mb:8.1f} {app_mb:8.1f} {app_mb / bare_mb:6.1f}")
    rss = {label: statistics.median(result["rss"] for result in measured[label]) / 1024 for label in measured}
    print(f"max RSS of the whole process: bare {rss['bare']:.0f} MB, app {rss['app']:.0f} MB")
    met = all(time_ratio <= 4 and memory_ratio <= 2 for time_ratio, memory_ratio in ratios)
    print(f"goal (<= 4x time, <= 2x peak memory): {'met' if met else 'NOT met'}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
