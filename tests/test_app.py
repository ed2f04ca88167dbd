"""The application shell: secrets, headers, migrations (the purity of the core modules is in test_structure.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from werkzeug.middleware.proxy_fix import ProxyFix

from planner.app import create_app
from planner.extensions import db
from planner.security import UnsafeSettingsError
from tests.helpers import make_app

ROOT = Path(__file__).resolve().parent.parent


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_INSTANCE_PATH", str(tmp_path / "inst"))
    first = create_app()
    second = create_app()
    key_file = tmp_path / "inst" / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert first.secret_key == second.secret_key == key_file.read_text().strip()
    assert len(first.secret_key) >= 64


def test_environment_variables_override_instance_config(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text("BASE_URL = 'https://events.example.com'\nLOOKBACK_DAYS = 90\nMAIL_TRANSPORT = 'smtp'\n")
    monkeypatch.setenv("PLANNER_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("PLANNER_LOOKBACK_DAYS", "30")
    app = create_app()
    assert app.config["BASE_URL"] == "https://events.example.com"
    assert app.config["LOOKBACK_DAYS"] == 30
    assert app.config["SESSION_COOKIE_SECURE"] is True


def bare_config(tmp_path, **settings):
    return {"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path / "inst"), **settings}


@pytest.mark.parametrize("settings", [{"BASE_URL": "https://events.example.com"}, {"ENV": "production"}])
def test_a_production_installation_refuses_to_keep_mail_in_the_mailbox(tmp_path, settings):
    with pytest.raises(UnsafeSettingsError, match="ALLOW_MAILBOX_IN_PRODUCTION") as raised:
        create_app(bare_config(tmp_path, **settings))
    assert "MAIL_TRANSPORT" in str(raised.value)
    with pytest.raises(UnsafeSettingsError):
        create_app(bare_config(tmp_path, ALLOW_MAILBOX_IN_PRODUCTION="False", **settings))
    create_app(bare_config(tmp_path, ALLOW_MAILBOX_IN_PRODUCTION=True, **settings))
    create_app(bare_config(tmp_path, MAIL_TRANSPORT="smtp", **settings))


def test_planner_env_production_from_the_environment_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("PLANNER_ENV", "production")
    with pytest.raises(UnsafeSettingsError, match="ENV is production"):
        create_app()
    monkeypatch.setenv("PLANNER_MAIL_TRANSPORT", "smtp")
    assert create_app().config["ENV"] == "production"


def test_a_development_installation_may_use_the_mailbox(tmp_path):
    assert create_app(bare_config(tmp_path, BASE_URL="http://127.0.0.1:5000")).config["MAIL_TRANSPORT"] == "mailbox"


def test_proxy_fix_is_applied_only_when_configured(tmp_path, monkeypatch):
    assert not isinstance(create_app(bare_config(tmp_path)).wsgi_app, ProxyFix)
    monkeypatch.setenv("PLANNER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("PLANNER_PROXY_FIX_X_FOR", "2")
    fixed = create_app().wsgi_app
    assert isinstance(fixed, ProxyFix) and fixed.x_for == 2


@pytest.mark.parametrize("value", ["two", -1, True, 1.5])
def test_a_wrong_proxy_count_is_refused_with_a_clear_message(tmp_path, value):
    with pytest.raises(UnsafeSettingsError, match="PROXY_FIX_X_FOR must be the number of proxies"):
        create_app(bare_config(tmp_path, PROXY_FIX_X_FOR=value))


def test_security_headers_and_cookie_flags(client, login):
    login()
    response = client.get("/events/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    app = client.application
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert "Strict-Transport-Security" not in response.headers


def test_templates_have_no_inline_scripts_or_styles():
    root = Path(__file__).resolve().parents[1] / "templates"
    for path in root.rglob("*.html"):
        if path.parent.name == "email":
            continue
        text = path.read_text()
        assert "<script>" not in text and "<style" not in text and " style=" not in text, path


def test_migrations_build_the_same_schema_as_the_models(database_url, tmp_path):
    app = make_app(database_url, tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(directory=str(Path(__file__).resolve().parents[1] / "migrations"))
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        db.engine.dispose()
    assert diff == []


#: what a light command must not load: the migrations, the web pages and forms, the metrics client, the solvers' numpy,
#: icalendar and its dateutil (calendars are read with planner.calendar_parts)
HEAVY = ("alembic", "flask_migrate", "planner.blueprints", "planner.forms", "flask_wtf", "wtforms", "prometheus_client",
         "numpy", "icalendar", "dateutil")
#: a calendar reply to an unknown reply address: its calendar is read, then the message refused
CALENDAR_REPLY = (
    b"From: someone@example.com\r\nTo: rsvp+unknown@planner.example.com\r\nSubject: Accepted: hello\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\n"
    b"BEGIN:VEVENT\r\nUID:light@example.com\r\nSEQUENCE:0\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:someone@example.com\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def imported_by(argv: list[str], tmp_path, stdin: bytes = b"", **env: str) -> set[str]:
    """Run a real `flask --app wsgi` command (on a fresh schema) with -X importtime; return the modules it imported."""
    database_url = f"sqlite:///{tmp_path}/light.sqlite"
    with make_app(database_url, tmp_path).app_context():
        db.engine.dispose()  # the command's connections are then the only ones
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "PLANNER_INSTANCE_PATH": str(tmp_path), "PLANNER_SECRET_KEY": "test",
               "PLANNER_SQLALCHEMY_DATABASE_URI": database_url, **env}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "flask", "--app", "wsgi", *argv], check=False, input=stdin,
                            capture_output=True, env=environ, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    lines = result.stderr.decode().splitlines()
    return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("argv, stdin", [
    (["mail", "ingest", "-"], b"From: someone@example.com\r\nSubject: hello\r\n\r\nhi\r\n"),
    (["mail", "ingest", "-"], CALENDAR_REPLY),
    (["outbox", "send"], b""),
])
def test_a_light_command_leaves_the_heavy_modules_unloaded(tmp_path, argv, stdin):
    modules = imported_by(argv, tmp_path, stdin)
    assert "planner.outbox" in modules  # what the command needs was loaded (and reported)
    assert not {name for name in modules if name.split(".")[0] in HEAVY or name.startswith(HEAVY)}


@pytest.mark.parametrize("argv", [["series", "run"], ["reminders", "send"], ["feedback", "send"], ["offers", "expire"],
                                  ["privacy", "retain"]])
def test_the_periodic_commands_run_light(tmp_path, argv):
    modules = imported_by(argv, tmp_path)
    assert "planner.cli" in modules and not {name for name in modules if name.startswith(("planner.blueprints", "alembic"))}


def test_a_light_command_closes_its_database_connections_at_exit(tmp_path):
    imported_by(["mail", "ingest", "-"], tmp_path, b"From: someone@example.com\r\nSubject: hello\r\n\r\nhi\r\n")
    assert not (tmp_path / "light.sqlite-wal").exists()  # the last connection closed and checkpointed the WAL


def test_metrics_on_load_prometheus_client_in_a_light_command_too(tmp_path):
    modules = imported_by(["outbox", "send"], tmp_path, PLANNER_METRICS_ENABLED="true", PLANNER_METRICS_TOKEN="t" * 32)
    assert "prometheus_client" in modules and "flask_wtf" not in modules


def test_only_a_light_command_holds_the_garbage_collector_and_only_until_its_command_is_loaded():
    code = (
        "import gc, sys\n"
        "sys.argv = ['flask', *sys.argv[1:]]\n"
        "from planner.light import hold_collection, release_collection\n"
        "hold_collection(); held = not gc.isenabled(); release_collection()\n"
        "print(held, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )

    def run(*argv: str, **env: str) -> str:
        environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), **env}
        return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=environment,
                              check=True).stdout.split()

    assert run("--app", "wsgi", "mail", "ingest", "-", FLASK_RUN_FROM_CLI="true") == ["True", "True", "True"]
    assert run("--app", "wsgi", "run", FLASK_RUN_FROM_CLI="true") == ["False", "True", "False"]
    assert run("mail", "ingest") == ["False", "True", "False"]  # not a flask command: a test, a web worker
