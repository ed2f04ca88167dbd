"""Start-up of the `flask` commands beside `python -c pass`: wall time and peak memory, median of 5, in subprocesses.

    python bench/startup.py [--runs 5]

Goal: `flask mail ingest` at most 0.5 s and 60 MB. Also measured: a cron command (`outbox send`),
`create_app()` as gunicorn loads it (everything imported), and its first request.
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
FIRST_REQUEST = "from wsgi import app; app.test_client().get('/healthz')"


def measure(argv: list[str], env: dict, stdin: bytes = b"") -> tuple[float, float]:
    """Run argv once; return its wall time in seconds and its peak resident memory in MB."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read(), stdout=subprocess.DEVNULL, check=True)\n"
        "wall = time.perf_counter() - start\n"
        "print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([PYTHON, "-c", wrapper, *argv], input=stdin, capture_output=True, env=env, cwd=ROOT, check=True)
    wall, rss = out.stdout.split()
    return float(wall), float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "PLANNER_INSTANCE_PATH": folder, "PLANNER_SECRET_KEY": "bench",
            "PLANNER_SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite",
        }
        subprocess.run([*FLASK, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        cases = [
            ("python -c pass", [PYTHON, "-c", "pass"], b""),
            ("flask mail ingest", [*FLASK, "mail", "ingest", "-"], MESSAGE),
            ("flask outbox send", [*FLASK, "outbox", "send"], b""),
            ("flask --help", [*FLASK, "--help"], b""),
            ("create_app (gunicorn)", [PYTHON, "-c", "import wsgi"], b""),
            ("create_app + first request", [PYTHON, "-c", FIRST_REQUEST], b""),
        ]
        rows = []
        for name, argv, stdin in cases:
            runs = [measure(argv, env, stdin) for _ in range(args.runs)]
            rows.append((name, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)))
    base_time, base_rss = rows[0][1], rows[0][2]
    print(f"{'command':28} {'wall s':>8} {'x pass':>7} {'max RSS MB':>11} {'x pass':>7}")
    for name, wall, rss in rows:
        print(f"{name:28} {wall:8.3f} {wall / base_time:7.1f} {rss:11.1f} {rss / base_rss:7.1f}")
    ingest = rows[1]
    verdict = "met" if ingest[1] <= 0.5 and ingest[2] <= 60 else "NOT met"
    load = os.getloadavg()[0]
    print(f"goal (mail ingest <= 0.5 s and <= 60 MB): {verdict}; load average {load:.1f} at {time.strftime('%H:%M')}")


if __name__ == "__main__":
    main()
