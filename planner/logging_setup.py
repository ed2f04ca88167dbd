"""Structured logs: with LOG_FORMAT = "json", one JSON line per request and per mail outcome on standard error.

A request line names the route's template (/rsvp/<token>), never the path itself, so an RSVP
token never reaches the log. Mail outcomes come from planner.outbox through the "planner.outbox"
logger with their fields in `extra`.
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, request

LOG_FORMATS = ("text", "json")
#: the fields a log record may carry in `extra` that go into its JSON line
FIELDS = ("method", "path", "endpoint", "status", "duration_ms", "request_id",
          "message_id", "state", "attempts", "error_class")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
request_log = logging.getLogger("planner.request")


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the known extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **{name: getattr(record, name) for name in FIELDS if hasattr(record, name)},
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(line, ensure_ascii=False, default=str)


def init_app(app: Flask) -> None:
    """Log each request (and the planner's own records) as JSON lines when LOG_FORMAT is "json"."""
    kind = str(app.config["LOG_FORMAT"]).lower()
    if kind not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {app.config['LOG_FORMAT']!r}")
    if kind != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    planner_log = logging.getLogger("planner")
    planner_log.handlers = [handler]
    planner_log.setLevel(logging.INFO)
    planner_log.propagate = False
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response):
    started = g.get("request_started")
    if started is None:
        return response
    rule = request.url_rule
    request_log.info("request", extra={
        "method": request.method,
        "path": rule.rule if rule is not None else "(no route)",
        "endpoint": request.endpoint,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "request_id": g.request_id,
    })
    response.headers["X-Request-ID"] = g.request_id
    return response
