"""gunicorn on a free loopback port, for the concurrency tests and bench/rsvp_load.py: start, one request, the RSVP flow.

It lives beside tests/smtp_server.py (which the benchmarks import too) and imports nothing of planner, so that the
tests and the benchmarks share one way to start the served app and talk to it.
"""

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def request(port: int, method: str, path: str, body: str | None = None, cookie: str | None = None):
    """One request on a fresh connection: (status, headers, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def answer_form(headers, page: str, answer: str, comment: str = "") -> tuple[str | None, str]:
    """The cookie (the RSVP pages set none: None) and the form body that answer an RSVP page just fetched: (cookie, body)."""
    cookie = headers.get("Set-Cookie")
    return cookie and cookie.split(";", 1)[0], f"csrf_token={CSRF.search(page).group(1)}&answer={answer}&comment={comment}"


class Gunicorn:
    """gunicorn started from deploy/gunicorn.conf.py serving `target` on a free port, stopped in close()."""

    def __init__(self, target: str, database_url: str, instance: Path, *, secret: str, workers: int = 2, **environ: str):
        self.port = free_port()
        environment = {
            **os.environ,
            "PLANNER_INSTANCE_PATH": str(instance),
            "PLANNER_SQLALCHEMY_DATABASE_URI": database_url,
            "PLANNER_SECRET_KEY": secret,
            "PLANNER_MAIL_SEND_AFTER_COMMIT": "false",
            "PLANNER_MAIL_MAILBOX_DIR": str(instance / "mailbox"),
            "PLANNER_BIND": f"127.0.0.1:{self.port}",
            "PLANNER_WORKERS": str(workers),
            "PLANNER_ACCESS_LOG": "/dev/null",
            "PYTHONPATH": str(ROOT),
            **environ,
        }
        instance.mkdir(parents=True, exist_ok=True)
        self.log = instance / "gunicorn.log"  # a file, not a pipe: a full pipe would stall the workers' logging
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([str(GUNICORN), "-c", "deploy/gunicorn.conf.py", target], cwd=ROOT,
                                            env=environment, stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(300):  # bounded: 60 s
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError(f"gunicorn {target} did not answer /healthz")

    def request(self, method: str, path: str, body: str | None = None, cookie: str | None = None):
        """One request to this server on a fresh connection: (status, headers, body text)."""
        return request(self.port, method, path, body, cookie)

    def answer(self, token: str, answer: str, times: int = 1) -> list[int]:
        """GET the RSVP page for its CSRF token and session, then POST the answer `times` times; return the statuses."""
        status, headers, page = self.request("GET", f"/rsvp/{token}")
        assert status == 200, page
        cookie, body = answer_form(headers, page, answer)
        return [status] + [self.request("POST", f"/rsvp/{token}", body, cookie)[0] for _ in range(times)]

    def worker_cpu_seconds(self) -> float:
        """CPU seconds the live workers have used so far (Linux /proc; 0.0 elsewhere): a measure that a busy machine
        does not distort the way it distorts wall-clock rates."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            ticks = sum(sum(int(field) for field in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13])
                        for pid in children)
        except OSError:
            return 0.0
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        """Stop gunicorn (SIGTERM, then kill)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
