"""Seating plans for an event: make (a background job), re-run, adjust, publish, print, and record who met."""

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)

from .. import jobs
from ..errors import PlannerError
from ..extensions import db
from ..forms import ActionForm, MoveSeatForm, SeatingForm
from ..models import Event, JobState, SeatingPlan, utcnow
from ..outbox import lease_from_config
from ..services import seating
from ..services.events import event_day
from ..services.seating import SeatingSettings
from ..text import plural
from .views import audited, event_or_404, organisers_only, refusal_goes_to

bp = Blueprint("seating", __name__, url_prefix="/events/<int:event_id>/seating")
organisers_only(bp)
#: while a plan search is queued or running, the page reloads itself this often (a meta refresh, no JavaScript)
REFRESH_SECONDS = 2


def _plan(event: Event, plan_id: int) -> SeatingPlan | None:
    plan = db.session.get(SeatingPlan, plan_id)
    return plan if plan is not None and plan.event_id == event.id else None


@bp.get("")
def show(event_id: int):
    event = event_or_404(event_id)
    refusal = seating.seating_refusal(event)
    if refusal:
        page = render_template("seating/show.html", event=event, refusal=refusal, summary=None, published=None, form=None)
        return page, 409
    plan = seating.current_plan(db.session, event)
    form = SeatingForm(formdata=None)
    if plan is not None:
        _fill(form, seating.SeatingSettings.from_json(plan.settings), plan.seed + 1)
    return _page(event, plan, form)


def _page(event: Event, plan: SeatingPlan | None, form: SeatingForm, status: int = 200):
    summary = seating.plan_summary(plan) if plan is not None else None
    published = seating.published_plan(db.session, event)
    job = seating.plan_job(db.session, event)
    return (
        render_template(
            "seating/show.html",
            event=event,
            summary=summary,
            published=published,
            working=job is not None and job.state in (JobState.QUEUED, JobState.RUNNING),
            job_error=job.error if job is not None and job.state == JobState.FAILED else None,
            refresh_seconds=REFRESH_SECONDS,
            form=form,
            action=ActionForm(),
            can_record=seating.has_started(event, utcnow()),
            rerun_fields=_rerun_fields(summary) if summary else {},
        ),
        status,
    )


def _fill(form: SeatingForm, settings: SeatingSettings, seed: int) -> None:
    form.mode.data = settings.mode
    form.min_size.data = settings.min_size
    form.max_size.data = settings.max_size
    form.sizes.data = ", ".join(map(str, settings.sizes)) if settings.sizes else ""
    form.w_department.data = settings.w_department
    form.w_level.data = settings.w_level
    form.w_new.data = settings.w_new
    form.include_maybe.data = settings.include_maybe
    form.seed.data = seed


def _rerun_fields(summary: seating.PlanSummary) -> dict:
    """Return the form fields that make the same plan again with the next seed."""
    settings = summary.settings
    fields = {
        "mode": settings.mode,
        "min_size": settings.min_size,
        "max_size": settings.max_size,
        "sizes": ", ".join(map(str, settings.sizes)) if settings.sizes else "",
        "w_department": settings.w_department,
        "w_level": settings.w_level,
        "w_new": settings.w_new,
        "seed": summary.plan.seed + 1,
    }
    if settings.include_maybe:
        fields["include_maybe"] = "y"
    return fields


@bp.post("")
def create(event_id: int):
    event = event_or_404(event_id)
    form = SeatingForm()
    if not form.validate_on_submit():
        flash("The plan was not made: check the settings below.", "error")
        return _page(event, seating.current_plan(db.session, event), form, 400)
    settings = SeatingSettings(
        mode=form.mode.data,
        min_size=form.min_size.data,
        max_size=form.max_size.data,
        sizes=form.table_sizes(),
        w_department=form.w_department.data,
        w_level=form.w_level.data,
        w_new=form.w_new.data,
        include_maybe=form.include_maybe.data,
    )
    seed = form.seed.data or 0
    try:
        job = seating.queue_plan(db.session, event, settings, seed, current_app.config["SEATING_SECONDS"])
    except PlannerError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(event, seating.current_plan(db.session, event), form, 409)
    audited("seating.make", ("event", event.id), f"seed {seed}")
    db.session.commit()
    if not current_app.config["SEATING_INLINE"]:
        flash(f"Making the plan with seed {seed}: this page shows it as soon as it is ready.", "success")
        return redirect(url_for("seating.show", event_id=event.id), code=303)
    job = jobs.run_one(db.session, lease=lease_from_config(current_app.config), job_id=job.id)
    if job is not None and job.state == JobState.DONE:
        seated = json.loads(job.result)["seated"]
        flash(f"Seated {plural(seated, 'person', 'people')} (seed {seed}).", "success")
    elif job is not None and job.state == JobState.FAILED:
        flash(job.error, "error")
    return redirect(url_for("seating.show", event_id=event.id), code=303)


@bp.post("/plans/<int:plan_id>/move")
@refusal_goes_to("seating.show", 303)
def move(event_id: int, plan_id: int):
    event = event_or_404(event_id)
    plan = _plan(event, plan_id)
    form = MoveSeatForm()
    if not form.validate_on_submit():
        abort(400)
    if plan is None:
        flash("That plan has been replaced; nothing was moved. Here is the current plan.", "error")
        return redirect(url_for("seating.show", event_id=event.id), code=303)
    warnings = seating.move_person(plan, form.person_id.data, form.table.data - 1)
    audited("seating.move", ("seating plan", plan.id), f"person {form.person_id.data} to table {form.table.data}")
    db.session.commit()
    flash("Moved.", "success")
    for warning in warnings:
        flash(warning, "error")
    return redirect(url_for("seating.show", event_id=event.id), code=303)


@bp.post("/plans/<int:plan_id>/publish")
@refusal_goes_to("seating.show", 303)
def publish(event_id: int, plan_id: int):
    event = event_or_404(event_id)
    plan = _plan(event, plan_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if plan is None:
        flash("That plan has been replaced; nothing was published. Here is the current plan.", "error")
        return redirect(url_for("seating.show", event_id=event.id), code=303)
    seating.publish_plan(plan, utcnow())
    audited("seating.publish", ("seating plan", plan.id))
    db.session.commit()
    flash("Published: attendees now see their table on their invitation page.", "success")
    return redirect(url_for("seating.show", event_id=event.id), code=303)


@bp.post("/plans/<int:plan_id>/record")
@refusal_goes_to("seating.show", 303)
def record(event_id: int, plan_id: int):
    event = event_or_404(event_id)
    plan = _plan(event, plan_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if plan is None:
        flash("That plan has been replaced; nothing was recorded. Here is the current plan.", "error")
        return redirect(url_for("seating.show", event_id=event.id), code=303)
    pairs = seating.record_meetings(db.session, event, plan, event_day(event), now=utcnow())
    audited("seating.record", ("event", event.id), f"{plural(pairs, 'pair')} met")
    db.session.commit()
    flash(f"Recorded {plural(pairs, 'pair')} who met; future plans will mix them with new people.", "success")
    return redirect(url_for("seating.show", event_id=event.id), code=303)
