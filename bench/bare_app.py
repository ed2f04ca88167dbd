"""The reference for bench/rsvp_load.py: a bare Flask endpoint doing one indexed read and one insert per request.

    BARE_DATABASE_URI=... gunicorn -c deploy/gunicorn.conf.py bench.bare_app:app
"""

import os

from flask import Flask, abort
from sqlalchemy import create_engine, text

from planner.extensions import tune_sqlite  # noqa: F401  (the same WAL and busy_timeout settings as the app)

app = Flask(__name__)
engine = create_engine(os.environ["BARE_DATABASE_URI"], pool_pre_ping=True)


@app.route("/bare/<token_hash>", methods=["GET", "POST"])
def bare(token_hash: str):
    """Read one invitation by its indexed token hash and insert one row."""
    with engine.begin() as connection:
        row = connection.execute(text("SELECT id FROM invitation WHERE token_hash = :h"), {"h": token_hash}).first()
        if row is None:
            abort(404)
        connection.execute(text("INSERT INTO bare_hit (invitation_id) VALUES (:i)"), {"i": row.id})
    return "ok"


@app.get("/healthz")
def healthz():
    """Answer once gunicorn serves (tests/gunicorn_server.py waits for it)."""
    return "ok"
