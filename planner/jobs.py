"""Background jobs: queue slow work in the database, let a worker claim it under a lease, record the outcome.

Like the outbox, these functions own their transactions: a claim is committed before the job runs, and
the job's own writes are committed together with its outcome, and only while the worker still holds
the claim, so a job's result is stored once even when a worker is killed and another runs it again
after the lease. A job must finish within its lease (the worker does not renew it while it runs).
"""

import importlib
import json
import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from .errors import PlannerError
from .models import Job, JobState, utcnow

DEFAULT_LEASE = timedelta(seconds=60)
#: a job is run at most this many times (a worker that dies while running it counts as a run)
MAX_ATTEMPTS = 3
#: what runs each kind of job: handler(session, payload) -> result (JSON-able); PlannerError fails the job
HANDLERS = {"seating.plan": "planner.services.seating:run_plan_job"}
GAVE_UP = "The worker stopped before finishing it, {n} times; make it again."
CRASHED = "It failed unexpectedly {n} times; the error is in the worker's log."

log = logging.getLogger(__name__)


def enqueue(session: Session, kind: str, payload: dict, event_id: int | None = None) -> Job:
    """Add a job of this kind to the queue (the caller commits: a worker sees it only then)."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, payload=json.dumps(payload), event_id=event_id, state=JobState.QUEUED, attempts=0)
    session.add(job)
    session.flush()
    return job


def release_stale(session: Session, now: datetime) -> int:
    """Queue again the jobs whose lease ran out (their worker died), or fail those run too often; the caller commits."""
    used_up = Job.attempts >= MAX_ATTEMPTS
    result = session.execute(
        update(Job)
        .where(Job.state == JobState.RUNNING, Job.lease_until < now)
        .values(
            state=case((used_up, JobState.FAILED), else_=JobState.QUEUED),
            error=case((used_up, GAVE_UP.format(n=MAX_ATTEMPTS)), else_=None),
            finished_at=case((used_up, now), else_=None),
            claimed_by=None, lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def claim(session: Session, now: datetime, *, lease: timedelta = DEFAULT_LEASE, worker: str | None = None,
          job_id: int | None = None) -> Job | None:
    """Release stale claims, then lease the oldest queued job (or job_id) to worker until now + lease; commit; return it."""
    release_stale(session, now)
    due = select(Job.id).where(Job.state == JobState.QUEUED).order_by(Job.id).limit(1)
    if job_id is not None:
        due = due.where(Job.id == job_id)
    worker = worker or uuid.uuid4().hex
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(due.with_for_update(skip_locked=True)))
        condition = Job.id.in_(ids)
    else:
        condition = Job.id.in_(due.scalar_subquery())
    session.execute(
        update(Job)
        .where(condition, Job.state == JobState.QUEUED)
        .values(state=JobState.RUNNING, claimed_by=worker, lease_until=now + lease, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return session.scalar(select(Job).where(Job.claimed_by == worker, Job.state == JobState.RUNNING).limit(1))


def run_one(session: Session, *, lease: timedelta = DEFAULT_LEASE, job_id: int | None = None,
            now: datetime | None = None) -> Job | None:
    """Claim one due job (or job_id), run it and record its outcome; return it, or None when nothing was due."""
    worker = uuid.uuid4().hex
    job = claim(session, now or utcnow(), lease=lease, worker=worker, job_id=job_id)
    if job is None:
        return None
    job_id, kind, payload, attempts = job.id, job.kind, json.loads(job.payload), job.attempts
    try:
        result = _handler(kind)(session, payload)
    except PlannerError as error:
        session.rollback()
        _finish(session, job_id, worker, state=JobState.FAILED, error=str(error))
    except Exception:
        session.rollback()
        log.exception("job %s (%s) failed", job_id, kind)
        if attempts >= MAX_ATTEMPTS:
            _finish(session, job_id, worker, state=JobState.FAILED, error=CRASHED.format(n=attempts))
        else:
            _finish(session, job_id, worker, state=JobState.QUEUED, finished=False)
    except BaseException:
        session.rollback()  # interrupted (SIGTERM, Ctrl-C): put it back at once rather than after the lease
        _finish(session, job_id, worker, state=JobState.QUEUED, finished=False)
        session.commit()
        raise
    else:
        if not _finish(session, job_id, worker, state=JobState.DONE, result=json.dumps(result)):
            session.rollback()  # our lease ran out and another worker took the job: its run counts, not ours
    session.commit()
    return session.get(Job, job_id)


def run_due(session: Session, *, lease: timedelta = DEFAULT_LEASE, limit: int = 10) -> int:
    """Run up to limit due jobs one after the other; return how many ran."""
    count = 0
    while count < limit and run_one(session, lease=lease) is not None:
        count += 1
    return count


def _finish(session: Session, job_id: int, worker: str, *, state: JobState, result: str | None = None,
            error: str | None = None, finished: bool = True) -> bool:
    """Record an outcome of a job this worker still holds; return whether it did hold it."""
    outcome = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.claimed_by == worker, Job.state == JobState.RUNNING)
        .values(state=state, result=result, error=error, claimed_by=None, lease_until=None,
                finished_at=utcnow() if finished else None)
        .execution_options(synchronize_session=False)
    )
    return outcome.rowcount == 1


def _handler(kind: str):
    module, name = HANDLERS[kind].split(":")
    return getattr(importlib.import_module(module), name)
