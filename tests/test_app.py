"""The application shell: secrets, headers, migrations (the purity of the core modules is in test_structure.py)."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from planner.app import create_app
from planner.extensions import db
from tests.helpers import make_app


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
    (instance / "config.py").write_text("BASE_URL = 'https://events.example.com'\nLOOKBACK_DAYS = 90\n")
    monkeypatch.setenv("PLANNER_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("PLANNER_LOOKBACK_DAYS", "30")
    app = create_app()
    assert app.config["BASE_URL"] == "https://events.example.com"
    assert app.config["LOOKBACK_DAYS"] == 30
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_security_headers_and_cookie_flags(client, login):
    login()
    response = client.get("/events/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    app = client.application
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


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
