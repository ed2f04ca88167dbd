"""The application factory."""

import os
from pathlib import Path

from flask import Flask

from .config import load_config
from .extensions import csrf, db, login_manager, migrate
from .security import add_security_headers, check_production_settings, trust_proxies

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build a configured application: settings, extensions, blueprints and commands."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("PLANNER_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    if test_config and "INSTANCE_PATH" in test_config:
        app.instance_path = test_config["INSTANCE_PATH"]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, test_config)
    check_production_settings(app.config)
    trust_proxies(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    app.after_request(add_security_headers)

    from . import auth_loader, blueprints, cli, filters, logging_setup, metrics

    logging_setup.init_app(app)
    metrics.init_app(app)
    auth_loader.init_app(app)
    blueprints.register(app)
    cli.register(app)
    filters.register(app)
    return app
