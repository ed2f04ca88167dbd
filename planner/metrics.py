"""Prometheus metrics, off unless METRICS_ENABLED: served at METRICS_PATH to a scraper that sends METRICS_TOKEN.

Outbox depth by state and the age of the oldest waiting message are read from the database at
scrape time, so every process agrees on them. Mail outcomes, RSVP answers and request latency are
counted in the process where they happen (one whose app has METRICS_ENABLED: prometheus_client is
imported only there, so a command with metrics off starts without it); with PROMETHEUS_MULTIPROC_DIR set (one folder shared
by the gunicorn workers and the outbox workers, emptied before they start) a scrape adds up all of them.
"""

import hmac
import os
import time
from functools import cache

from flask import Flask, Response, abort, current_app, g, request
from sqlalchemy import func, select

from .extensions import db
from .models import MailState, OutgoingMail, utcnow

#: set when an app with METRICS_ENABLED starts in this process: prometheus_client is imported only then
_counting = False


@cache
def _metrics() -> dict:
    """The process's three metrics by name, created (and prometheus_client imported) on first use."""
    from prometheus_client import Counter, Histogram

    return {
        "mail": Counter("planner_mail_outcomes", "Outgoing mail delivery outcomes, by outcome.", ["outcome"]),
        "answers": Counter("planner_rsvp_answers", "Answers recorded (link or calendar reply), by answer.", ["answer"]),
        "requests": Histogram("planner_request_seconds", "Time to answer a request, by endpoint.", ["endpoint"]),
    }


def count_mail_outcome(outcome: str) -> None:
    """Count one delivery outcome: sent, retry or failed (only in a process whose app has metrics on)."""
    if _counting:
        _metrics()["mail"].labels(outcome=str(outcome)).inc()


def count_answer(answer: str) -> None:
    """Count one recorded answer (yes, no, maybe, waitlist), only in a process whose app has metrics on."""
    if _counting:
        _metrics()["answers"].labels(answer=str(answer)).inc()


class OutboxCollector:
    """Outbox depth by state and the oldest waiting message's age, queried when scraped."""

    def collect(self):
        """Yield the two gauges from one grouped query."""
        from prometheus_client.core import GaugeMetricFamily

        oldest = func.min(OutgoingMail.created_at)
        rows = db.session.execute(
            select(OutgoingMail.state, func.count(OutgoingMail.id), oldest).group_by(OutgoingMail.state)
        ).all()
        depth = GaugeMetricFamily("planner_outbox_messages", "Messages in the outbox, by state.", labels=["state"])
        found = {str(state): (count, oldest) for state, count, oldest in rows}
        for state in MailState:
            depth.add_metric([str(state)], found.get(str(state), (0, None))[0])
        waiting = [oldest for state, (_, oldest) in found.items() if state in (MailState.QUEUED, MailState.RETRY) and oldest]
        age = GaugeMetricFamily("planner_outbox_oldest_waiting_seconds",
                                "Age of the oldest message waiting to be sent (queued or retry); 0 when none waits.")
        age.add_metric([], max(0.0, (utcnow() - min(waiting)).total_seconds()) if waiting else 0.0)
        db.session.rollback()
        yield depth
        yield age


def init_app(app: Flask) -> None:
    """Serve the metrics and time each request when METRICS_ENABLED; refuse to start without a METRICS_TOKEN."""
    if app.config["METRICS_ENABLED"] is not True:
        return
    if not str(app.config["METRICS_TOKEN"] or "").strip():
        raise ValueError("METRICS_ENABLED needs METRICS_TOKEN: the bearer token a scraper sends to read the metrics")
    global _counting
    _counting = True
    _metrics()
    app.add_url_rule(app.config["METRICS_PATH"], "metrics", metrics_view)
    app.before_request(_start_timer)
    app.after_request(_observe)


def metrics_view():
    """The text exposition, for a scraper with the right bearer token (401 otherwise)."""
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {current_app.config['METRICS_TOKEN']}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        abort(Response("A bearer token is needed.\n", 401, {"WWW-Authenticate": "Bearer"}))
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in _metrics().values():
            registry.register(metric)
    registry.register(OutboxCollector())
    return Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.get("metrics_started")
    if started is not None:
        _metrics()["requests"].labels(endpoint=request.endpoint or "(no route)").observe(time.perf_counter() - started)
    return response
