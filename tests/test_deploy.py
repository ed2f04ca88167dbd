"""Production setup: /healthz and /readyz, the documented gunicorn + outbox worker start, and SQLite backups."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from planner.app import create_app
from planner.extensions import db
from planner.models import MailState, OutgoingMail, Person, utcnow
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = str(ROOT / "migrations")


def migrated(app):
    """Build the schema the way production does: through the migrations."""
    db.session.rollback()  # the test's session must hold no table lock while the schema is dropped
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(directory=MIGRATIONS)


def queued_mail(minutes_ago: int) -> OutgoingMail:
    return OutgoingMail(
        message_id=f"<m{minutes_ago}@planner.test>", sender="planner@localhost", recipient="a@example.com",
        subject="Hello", raw=b"Subject: Hello\r\n\r\nHi\r\n", next_attempt_at=utcnow() - timedelta(minutes=minutes_ago),
    )


def test_healthz_answers_without_login_or_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_on_a_migrated_database_and_says_what_is_wrong_otherwise(app, client):
    unmigrated = client.get("/readyz")
    assert unmigrated.status_code == 503
    assert "db upgrade" in unmigrated.get_json()["checks"]["migrations"]
    migrated(app)
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json() == {"status": "ready", "checks": {"database": "reachable", "migrations": "at head", "outbox": "moving"}}
    db.session.add(queued_mail(minutes_ago=5))
    db.session.commit()
    assert client.get("/readyz").status_code == 200
    db.session.add(queued_mail(minutes_ago=45))
    db.session.commit()
    stuck = client.get("/readyz")
    assert stuck.status_code == 503 and "1 messages due for over 30 minutes" in stuck.get_json()["checks"]["outbox"]


def test_readyz_reports_an_unreachable_database_without_secrets(tmp_path):
    secret = "s3cret-password"
    app = create_app({
        "TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://planner:{secret}@127.0.0.1:{free_port()}/none",
    })
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("unreachable")
    assert secret not in response.get_data(as_text=True)


def wait_for(url: str, seconds: float = 60.0) -> bytes:
    """Poll url until it answers 200 (bounded), and return the body."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> int:
    """Ask a process to stop with SIGTERM (as systemd does); kill it if it does not within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.mark.skipif(not (Path(sys.executable).parent / "gunicorn").exists(), reason="gunicorn is not installed in this venv")
def test_the_documented_production_start_serves_and_delivers(database_url, tmp_path, smtp_server):
    port = free_port()
    environment = {
        **os.environ,
        "PLANNER_INSTANCE_PATH": str(tmp_path / "instance"),
        "PLANNER_SQLALCHEMY_DATABASE_URI": database_url,
        "PLANNER_MAIL_TRANSPORT": "smtp",
        "PLANNER_SMTP_HOST": smtp_server.host,
        "PLANNER_SMTP_PORT": str(smtp_server.port),
        "PLANNER_BIND": f"127.0.0.1:{port}",
        "PLANNER_WORKERS": "2",
    }
    if database_url.startswith("postgresql"):
        reset = create_app({"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": database_url})
        with reset.app_context():
            db.drop_all()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.engine.dispose()
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=environment, check=True, capture_output=True)
    web = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                           cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    worker = subprocess.Popen([*flask, "outbox", "work", "--interval", "0.2"], cwd=ROOT, env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert json.loads(wait_for(f"http://127.0.0.1:{port}/healthz")) == {"status": "ok"}
        assert json.loads(wait_for(f"http://127.0.0.1:{port}/readyz"))["status"] == "ready"
        assert b"Log in" in wait_for(f"http://127.0.0.1:{port}/auth/login")
        app = create_app({"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": database_url})
        with app.app_context():
            db.session.add(queued_mail(minutes_ago=0))
            db.session.commit()
            deadline = time.monotonic() + 60
            while not smtp_server.messages and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [m.message["Subject"] for m in smtp_server.messages] == ["Hello"]
            db.session.expire_all()
            assert db.session.scalar(select(OutgoingMail.state)) == MailState.SENT
            db.engine.dispose()
    finally:
        codes = stop(web), stop(worker)
    assert codes[0] == 0


def test_a_backup_is_consistent_while_a_writer_is_busy_and_restores_every_row(app, make_person, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite online backup; PostgreSQL installations use pg_dump")
    for number in range(25):
        make_person(email=f"kept{number}@example.com")
    busy = sqlite3.connect(db.engine.url.database)
    busy.execute("BEGIN IMMEDIATE")
    busy.execute("UPDATE person SET name = 'Uncommitted' WHERE email = 'kept0@example.com'")
    busy.execute("DELETE FROM person WHERE email = 'kept1@example.com'")
    target = tmp_path / "copy.sqlite"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    busy.rollback()
    busy.close()
    assert result.exit_code == 0 and "Backup written" in result.output
    restored = create_app({"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path / "r"),
                           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}"})
    with restored.app_context():
        emails = set(db.session.scalars(select(Person.email)))
        assert emails == {f"kept{number}@example.com" for number in range(25)}
        assert "Uncommitted" not in set(db.session.scalars(select(Person.name)))
        assert db.session.scalar(select(func.count(Person.id))) == 25
        db.engine.dispose()
    again = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "exists already" in again.output


def test_a_postgresql_installation_is_told_to_use_pg_dump(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:5432/test"})
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.sqlite")])
    assert result.exit_code != 0 and "pg_dump" in result.output
