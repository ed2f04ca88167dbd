"""Configuration: defaults, then instance/config.py, then PLANNER_* environment variables, then test config."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

#: written into the instance folder by `flask demo`: this installation shows its Demo mailbox
DEMO_MARKER = "demo-installation"
DEFAULT_LEVELS = ("Intern", "Junior", "Mid", "Senior", "Lead", "Director", "Executive")


def defaults(instance_path: str) -> dict:
    """Return the built-in settings for an installation whose instance folder is instance_path."""
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(instance_path) / 'planner.sqlite'}",
        "BASE_URL": "http://127.0.0.1:5000",
        "LEVELS": list(DEFAULT_LEVELS),
        "LOOKBACK_DAYS": 180,
        "ANALYTICS_DAYS": 180,
        "ANALYTICS_MIN_GROUP": 5,
        "ANALYTICS_JUNIOR_MAX_LEVEL": 1,
        "DASHBOARD_UPCOMING": 20,
        "ATTENTION_DEADLINE_DAYS": 2,
        "ATTENTION_UNANSWERED_SHARE": 0.3,
        "REMINDER_HOUR": 9,
        "DIGEST_HOUR": 7,
        #: how long an automatic backfill offer holds its seat (an event or series can set its own)
        "OFFER_HOURS": 48,
        "ENV": "development",
        "DEFAULT_TIMEZONE": "Europe/Berlin",
        "SEATING_SECONDS": 1.5,
        "FEEDBACK_WINDOW_DAYS": 7,
        #: `privacy retain` deletes notes, free-text answers, feedback comments and needs this many months after the
        #: event; None: kept until a person is erased
        "RETENTION_MONTHS": None,
        #: run a queued seating search right after the request's commit (no worker needed); None: only for the mailbox demo
        "SEATING_INLINE": None,
        "READY_OUTBOX_MINUTES": 30,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_MAX_FAILURES_PER_IP": 50,
        "LOGIN_WINDOW_MINUTES": 15,
        #: single sign-on (OpenID Connect) is on when this discovery URL (…/.well-known/openid-configuration) is set
        "OIDC_DISCOVERY_URL": None,
        "OIDC_CLIENT_ID": None,
        "OIDC_CLIENT_SECRET": None,
        #: the button reads "Sign in with <label>"
        "OIDC_LABEL": "SSO",
        #: email domains whose people become organisers at their first SSO login (empty: only existing organisers)
        "OIDC_ALLOWED_DOMAINS": [],
        "OIDC_TIMEOUT": 10.0,
        #: turn password login off (needs OIDC_DISCOVERY_URL)
        "SSO_ONLY": False,
        "PROXY_FIX_X_FOR": 0,
        "HSTS_MAX_AGE": 31536000,
        "HSTS_INCLUDE_SUBDOMAINS": True,
        "DEMO_MAILBOX": False,
        "ALLOW_MAILBOX_IN_PRODUCTION": False,
        "MAIL_TRANSPORT": "mailbox",
        "MAIL_MAILBOX_DIR": str(Path(instance_path) / "mailbox"),
        "MAIL_FROM": "planner@localhost",
        "MAIL_FROM_NAME": "Team Planner",
        "MAIL_SEND_AFTER_COMMIT": False,
        "OUTBOX_LEASE_SECONDS": 60,
        "LOG_FORMAT": "text",
        "METRICS_ENABLED": False,
        "METRICS_TOKEN": None,
        "METRICS_PATH": "/metrics",
        #: the bearer token an identity provider sends to /scim/v2; None: directory sync over SCIM is off (404)
        "SCIM_TOKEN": None,
        #: wrong or missing SCIM bearer tokens from one address within LOGIN_WINDOW_MINUTES after which its SCIM requests
        #: get 429 until the window passes (they count as failed logins from that address, too)
        "SCIM_MAX_FAILURES": 10,
        #: the SCIM attribute that carries a person's level (a ladder name or number): a core User attribute such as
        #: "title", or "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:<name>" (e.g. employeeNumber)
        "SCIM_LEVEL_ATTRIBUTE": "title",
        "REPLY_DOMAIN": "planner.example.com",
        "SMTP_HOST": "localhost",
        "SMTP_PORT": 25,
        "SMTP_SECURITY": "plain",
        "SMTP_USERNAME": None,
        "SMTP_PASSWORD": None,
        "SMTP_TIMEOUT": 30.0,
        "SMTP_CA_FILE": None,
        "SMTP_VERIFY": True,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def load_config(app: Flask, test_config: dict | None) -> None:
    """Fill app.config from every source in order of precedence."""
    app.config.from_mapping(defaults(app.instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("PLANNER")
    else:
        app.config.from_mapping(test_config)
    if str(app.config["BASE_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if app.config["SEATING_INLINE"] is None:
        app.config["SEATING_INLINE"] = str(app.config["MAIL_TRANSPORT"]).lower() == "mailbox"
    if (Path(app.instance_path) / DEMO_MARKER).is_file():
        app.config["DEMO_MAILBOX"] = True


def mailbox_shown(config) -> bool:
    """The Demo mailbox is shown only with the mailbox transport, and on a demo installation (or DEMO_MAILBOX, or DEBUG)."""
    if str(config["MAIL_TRANSPORT"]).lower() != "mailbox":
        return False
    return config["DEMO_MAILBOX"] is True or bool(config.get("DEBUG"))


def sends_at_once(config) -> bool:
    """Whether a request sends the mail it queued (MAIL_SEND_AFTER_COMMIT, or the mailbox) or leaves it to the outbox worker."""
    return config["MAIL_SEND_AFTER_COMMIT"] is True or str(config["MAIL_TRANSPORT"]).lower() == "mailbox"


def instance_secret_key(instance_path: str) -> str:
    """Read the installation's secret key from the instance folder, creating it on first use."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()
