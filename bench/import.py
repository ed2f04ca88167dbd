"""Importing a staff CSV of 50,000 rows beside a bare csv + sqlite3 executemany script, each in its own subprocess.

    python bench/import.py [--rows 50000] [--runs 3]

Two imports into a fresh SQLite directory: the first (every row new) and a second of the same file
with a tenth of the rows changed (read, compare, update). The app's import is the `flask people
import` path: read_people_csv (validation) then write_rows and a commit. The bare script reads
the file with csv and writes it with one executemany (an upsert on the e-mail) into the same person
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

APP = r"""
import json, os, resource, sys, time, tracemalloc
from planner.app import create_app
from planner.directory import read_people_csv
from planner.extensions import db
from planner.services.people import write_rows

database, files = sys.argv[1], sys.argv[2:]
TRACE = bool(os.environ.get("BENCH_TRACE"))
app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "INSTANCE_PATH": database + ".i"})
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
import csv, io, json, os, resource, sqlite3, sys, time, tracemalloc
database, files = sys.argv[1], sys.argv[2:]
TRACE = bool(os.environ.get("BENCH_TRACE"))
connection = sqlite3.connect(database)
for ddl in json.loads(os.environ["BENCH_SCHEMA"]):
    connection.execute(ddl)
results = []
for path in files:
    data = open(path, "rb").read()
    if TRACE:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    rows = [(r["email"].lower(), r["name"], r["department"], int(r["level"]), r["joined_on"] or None, r["active"] != "no",
             False, f"{r['name'].lower()} {r['email'].lower()}", now, now)
            for r in csv.DictReader(io.StringIO(data.decode("utf-8")))]
    connection.executemany(
        "INSERT INTO person (email, name, department, level, joined_on, is_active, is_opted_out, search_key, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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


def person_schema() -> str:
    """Return, as JSON, the statements that create the app's person table and its indexes in SQLite."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from planner.models import Person

    table = Person.__table__
    statements = [CreateTable(table)] + [CreateIndex(index) for index in sorted(table.indexes, key=lambda index: index.name)]
    return json.dumps([str(statement.compile(dialect=sqlite.dialect())) for statement in statements])


def run(script: str, folder: str, files: list[str], label: str, index: int, schema: str, trace: bool = False) -> dict:
    """Run one script in a fresh process on a fresh database (traced: memory, else time); return its measurements."""
    database = os.path.join(folder, f"{label}-{index}{'-traced' if trace else ''}.sqlite")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_TRACE": "1" if trace else "", "BENCH_SCHEMA": schema}
    out = subprocess.run([sys.executable, "-c", script, database, *files], capture_output=True, env=env, cwd=ROOT, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    schema = person_schema()
    with tempfile.TemporaryDirectory() as folder:
        files = [os.path.join(folder, "first.csv"), os.path.join(folder, "changed.csv")]
        Path(files[0]).write_bytes(staff_csv(args.rows))
        Path(files[1]).write_bytes(staff_csv(args.rows, changed_every=10))
        scripts = (("bare", BARE), ("app", APP))
        measured = {label: [] for label, _ in scripts}
        for n in range(args.runs):  # interleaved, so that a change in the machine's load falls on both
            for label, script in scripts:
                measured[label].append(run(script, folder, files, label, n, schema))
        traced = {label: run(script, folder, files, label, 0, schema, trace=True) for label, script in scripts}

    def median(label, step, key):
        if key == "peak":
            return traced[label]["runs"][step]["peak"]
        return statistics.median(result["runs"][step][key] for result in measured[label])

    print(f"{args.rows} rows, median of {args.runs} processes")
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
