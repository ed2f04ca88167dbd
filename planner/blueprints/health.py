"""/healthz (the process answers) and /readyz (it can serve: database, migrations, outbox): plain JSON, no login."""

from datetime import timedelta

from flask import Blueprint, current_app, jsonify

from ..extensions import csrf, db
from ..health import readiness
from ..models import utcnow

bp = Blueprint("health", __name__)
csrf.exempt(bp)

NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok"), 200, NO_STORE


@bp.get("/readyz")
def readyz():
    stuck_after = timedelta(minutes=current_app.config["READY_OUTBOX_MINUTES"])
    checks = readiness(db.session, utcnow(), stuck_after=stuck_after)
    ready = all(check.ok for check in checks)
    body = {"status": "ready" if ready else "not ready", "checks": {check.name: check.detail for check in checks}}
    return jsonify(body), 200 if ready else 503, NO_STORE
