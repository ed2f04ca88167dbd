"""Start-up of the `flask` commands beside `python -c pass`: wall time and peak memory, median of 5, in subprocesses.

    python bench/startup.py [--runs 5]

Goal: `flask mail ingest` at most 0.5 s and 60 MB, for a plain message (no calendar: a bounce, an auto-reply) and
for a calendar reply (its calendar is parsed, then its unknown reply address refused). Also measured: the floor
(importing Flask, Flask-SQLAlchemy and Flask-Login), a cron command (`outbox send`), `create_app()` as gunicorn
loads it (everything imported), and its first request.

The main columns run with cached bytecode, as a deployment does: this machine sets PYTHONDONTWRITEBYTECODE, so the
bench points PYTHONPYCACHEPREFIX at a temporary folder and warms it with one run of each command first. The last
column, "no-cache cpu", is the CPU time with bytecode caching off (every .py file compiled again on each run).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FLASK = [PYTHON, "-m", "flask", "--app", "wsgi"]
MESSAGE = b"From: someone@example.com\r\nTo: planner@example.com\r\nSubject: hello\r\nMessage-ID: <x@example.com>\r\n\r\nhi\r\n"
REPLY = (
    b"From: someone@example.com\r\nTo: rsvp+unknown@planner.example.com\r\nSubject: Accepted: hello\r\n"
    b"Message-ID: <y@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
    b"BEGIN:VCALENDAR\r\nPRODID:-//Bench//EN\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:bench@example.com\r\n"
    b"DTSTAMP:20260101T000000Z\r\nSEQUENCE:0\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:someone@example.com\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)
#: the floor under any `flask` command of the app: importing Flask, Flask-SQLAlchemy and Flask-Login (ended as the app ends)
FLOOR = "import gc, flask.cli, flask_login, flask_sqlalchemy; gc.freeze()"
FIRST_REQUEST = "from wsgi import app; app.test_client().get('/healthz')"


def measure(argv: list[str], env: dict, stdin: bytes = b"") -> tuple[float, float, float]:
    """Run argv once; return its wall time and CPU time (user + system) in seconds and its peak resident memory in MB."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read(), stdout=subprocess.DEVNULL, check=True)\n"
        "wall = time.perf_counter() - start\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)\n"
    )
    out = subprocess.run([PYTHON, "-c", wrapper, *argv], input=stdin, capture_output=True, env=env, cwd=ROOT, check=True)
    wall, cpu, rss = out.stdout.split()
    return float(wall), float(cpu), float(rss)


def median_run(argv: list[str], env: dict, stdin: bytes, runs: int) -> tuple[float, float, float]:
    """Median wall time, CPU time and peak memory of argv over several runs."""
    results = [measure(argv, env, stdin) for _ in range(runs)]
    return tuple(statistics.median(result[i] for result in results) for i in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        no_cache = {
            **os.environ, "PYTHONPATH": str(ROOT), "PLANNER_INSTANCE_PATH": folder, "PLANNER_SECRET_KEY": "bench",
            "PLANNER_SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite", "PYTHONDONTWRITEBYTECODE": "1",
        }
        env = {**no_cache, "PYTHONPYCACHEPREFIX": f"{folder}/pycache"}
        del env["PYTHONDONTWRITEBYTECODE"]
        subprocess.run([*FLASK, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        cases = [
            ("python -c pass", [PYTHON, "-c", "pass"], b""),
            ("flask mail ingest", [*FLASK, "mail", "ingest", "-"], MESSAGE),
            ("flask mail ingest (reply)", [*FLASK, "mail", "ingest", "-"], REPLY),
            ("floor: Flask + SQLAlchemy", [PYTHON, "-c", FLOOR], b""),
            ("flask outbox send", [*FLASK, "outbox", "send"], b""),
            ("flask --help", [*FLASK, "--help"], b""),
            ("create_app (gunicorn)", [PYTHON, "-c", "import wsgi"], b""),
            ("create_app + first request", [PYTHON, "-c", FIRST_REQUEST], b""),
        ]
        for _, argv, stdin in cases:
            measure(argv, env, stdin)  # compiles the bytecode into the cache
        rows = []
        for name, argv, stdin in cases:
            wall, cpu, rss = median_run(argv, env, stdin, args.runs)
            rows.append((name, wall, cpu, rss, median_run(argv, no_cache, stdin, args.runs)[1]))
    base_wall, base_cpu, base_rss, _ = rows[0][1:]
    print(f"{'command':28} {'wall s':>8} {'x pass':>7} {'cpu s':>7} {'x pass':>7} {'max RSS MB':>11} {'x pass':>7} "
          f"{'no-cache cpu':>13}")
    for name, wall, cpu, rss, cold in rows:
        print(f"{name:28} {wall:8.3f} {wall / base_wall:7.1f} {cpu:7.3f} {cpu / base_cpu:7.1f} {rss:11.1f} {rss / base_rss:7.1f} "
              f"{cold:13.3f}")
    verdicts = ", ".join(f"{name}: {'met' if cpu <= 0.5 and rss <= 60 else 'NOT met'}" for name, _, cpu, rss, _ in rows[1:3])
    load = os.getloadavg()[0]
    print(f"goal (mail ingest <= 0.5 s CPU and <= 60 MB, cached bytecode): {verdicts}; "
          f"load average {load:.1f} at {time.strftime('%H:%M')}")


if __name__ == "__main__":
    main()
