"""Flask extensions, created unbound and initialised in create_app (Flask-Migrate there too, only when needed).

`csrf` is created on first use (the web part reads it): Flask-WTF and WTForms stay out of the light commands.
"""

import sqlite3

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention that migrations can rely on."""

    metadata = MetaData(naming_convention=NAMING)


@event.listens_for(Engine, "connect")
def tune_sqlite(dbapi_connection, _record) -> None:
    """Let SQLite readers and a writer work side by side (WAL) and wait for locks instead of failing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"


def __getattr__(name: str):
    """Create the CSRF extension when it is first read (module attribute hook, PEP 562)."""
    if name != "csrf":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from flask_wtf import CSRFProtect

    globals()["csrf"] = csrf = CSRFProtect()
    return csrf
