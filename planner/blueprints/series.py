"""Series: create a recurring event, follow its rounds and turns, skip or move a date, edit from a date on, end it."""

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..forms import ActionForm, DayForm, SeriesForm
from ..mailer import deliver_after_commit, mail_settings
from ..models import EventKind, Series, SeriesStatus, utcnow
from ..recurrence import describe, pattern_of
from ..services import series as series_service
from ..services.changes import cancel_event
from ..services.events import KIND_DEFAULTS, today_in
from ..services.ownership import sharing, visible_series
from ..services.turns import funnels, series_turns
from ..text import plural
from .views import audited, committed_or_shown, organisers_only, refusal_goes_to, series_or_404

bp = Blueprint("series", __name__, url_prefix="/series")


organisers_only(bp)
refused = refusal_goes_to("series.show", key="series_id")


@bp.get("/")
def index():
    all_series = db.session.scalars(select(Series).where(visible_series(current_user)).order_by(Series.status, Series.title)).all()
    return render_template("series/index.html", all_series=all_series, describe=describe)


def _new_form() -> SeriesForm:
    form = SeriesForm()
    form.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
    form.starts_on.data = today_in(form.timezone.data, utcnow()) + timedelta(days=7)
    defaults = KIND_DEFAULTS[EventKind.LUNCH]
    form.start.data, form.end.data, form.capacity.data, form.title.data = defaults.start, defaults.end, 8, defaults.title
    return form


@bp.route("/new", methods=["GET", "POST"])
def new():
    if request.method == "GET":
        return render_template("series/new.html", form=_new_form())
    form = SeriesForm()
    series = form.validate_on_submit() and committed_or_shown(
        form, lambda: series_service.create_series(db.session, current_user.id, form.to_draft(), utcnow()),
        lambda series: audited("series.create", ("series", series.id), series.title))
    if series:
        flash("Series created. Its rounds are planned as their dates come near; plan the first now if you like.", "success")
        return redirect(url_for("series.show", series_id=series.id))
    return render_template("series/new.html", form=form), 400


@bp.get("/<int:series_id>")
def show(series_id: int):
    series = series_or_404(series_id)
    now = utcnow()
    today = today_in(series.timezone, now)
    chain = series_service.lineage(series)
    rounds = [event for item in reversed(chain) for event in item.events]
    existing = {event.occurrence_on for event in series.events}
    upcoming = [
        day for day in series_service.series_days(series, after=today, until=today + timedelta(days=800))
        if day not in existing
    ][: series_service.UPCOMING] if series.status == SeriesStatus.ACTIVE else []
    return render_template(
        "series/show.html",
        series=series,
        chain=chain,
        rule=describe(series.rrule),
        rounds=rounds,
        funnels=funnels(db.session, [event.id for event in rounds]),
        upcoming=upcoming,
        due=series_service.due_days(db.session, series, now),
        turns=series_turns(db.session, [item.id for item in chain], today),
        action=ActionForm(),
        sharing=sharing(db.session, series, current_user),
    )


@bp.post("/<int:series_id>/plan")
def plan_due(series_id: int):
    """Create and propose (and for an automatic series, send) every round that is due now."""
    series = series_or_404(series_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    now = utcnow()
    made = []
    for day in series_service.due_days(db.session, series, now):
        try:
            outcome = series_service.make_round(
                db.session, series, day, now, mail=mail_settings(),
                lookback_days=current_app.config["LOOKBACK_DAYS"], uid_domain=current_app.config["REPLY_DOMAIN"],
            )
            audited("series.send" if outcome.is_sent else "series.round", ("series", series.id),
                    f"round on {day.isoformat()}: event {outcome.event.id}")
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            continue
        made.append(outcome)
        if outcome.problem:
            flash(f"{day:%d %b %Y}: {outcome.problem}", "error")
        if outcome.is_sent:
            deliver_after_commit(outcome.event.id)
    if made:
        flash(f"Planned {plural(len(made), 'round')}.", "success")
    else:
        flash("No round is due yet: rounds are planned "
              f"{series.plan_days_ahead} days before they start.", "info")
    return redirect(url_for("series.show", series_id=series.id))


def _day_form() -> DayForm:
    form = DayForm()
    if not form.validate_on_submit():
        abort(400)
    return form


@bp.post("/<int:series_id>/skip")
@refused
def skip(series_id: int):
    series = series_or_404(series_id)
    form = _day_form()
    sent = series_service.skip_day(db.session, series, form.day.data)
    cancelled = cancel_event(db.session, sent, mail_settings(), utcnow()) if sent else []
    audited("series.skip", ("series", series.id), form.day.data.isoformat())
    db.session.commit()
    flash(f"{form.day.data:%d %b %Y} is skipped" + (f"; {len(cancelled)} cancellations queued." if sent else "."), "success")
    if sent:
        deliver_after_commit(sent.id)
    return redirect(url_for("series.show", series_id=series.id))


@bp.post("/<int:series_id>/move")
@refused
def move(series_id: int):
    series = series_or_404(series_id)
    form = _day_form()
    if form.new_day.data is None:
        raise series_service.SeriesError("Choose the day to move the round to.")
    event = series_service.move_day(db.session, series, form.day.data, form.new_day.data, utcnow(),
                                    current_app.config["REPLY_DOMAIN"])
    audited("series.move", ("series", series.id), f"{form.day.data.isoformat()} to {form.new_day.data.isoformat()}")
    db.session.commit()
    flash(f"The round of {form.day.data:%d %b %Y} moves to {form.new_day.data:%d %b %Y}.", "success")
    return redirect(url_for("events.detail", event_id=event.id))


def _prefilled(series: Series) -> SeriesForm:
    fields = series_service.draft_of(series)
    form = SeriesForm(data={
        **{name: value for name, value in fields.items() if name not in ("kind", "send_mode", "planning_mode")},
        "kind": fields["kind"].value, "send_mode": fields["send_mode"].value, "planning_mode": fields["planning_mode"].value,
        "starts_on": series.starts_on, "from_day": today_in(series.timezone, utcnow()),
    })
    pattern = pattern_of(series.rrule)
    form.frequency.data, form.interval.data = pattern.frequency, pattern.interval
    form.weekday.data, form.nth.data, form.month_day.data = str(pattern.weekday), str(pattern.nth), str(pattern.month_day)
    form.ends.data = "until" if pattern.until else "count" if pattern.count else "never"
    form.until.data, form.count.data = pattern.until, pattern.count
    return form


@bp.route("/<int:series_id>/edit", methods=["GET", "POST"])
@refused
def edit(series_id: int):
    series = series_or_404(series_id)
    if series.status != SeriesStatus.ACTIVE:
        raise series_service.SeriesError("An ended series cannot be changed.")
    if request.method == "GET":
        return render_template("series/edit.html", series=series, form=_prefilled(series))
    form = SeriesForm()
    successor = form.validate_on_submit() and committed_or_shown(
        form, lambda: series_service.edit_from(db.session, series, form.to_draft(), form.from_day.data, utcnow()),
        lambda successor: audited("series.edit", ("series", series.id), f"from {successor.starts_on.isoformat()}: series {successor.id}"))
    if successor:
        flash("The series is changed from that date on; earlier rounds keep their settings.", "success")
        return redirect(url_for("series.show", series_id=successor.id))
    return render_template("series/edit.html", series=series, form=form), 400


@bp.get("/<int:series_id>/end")
def end(series_id: int):
    series = series_or_404(series_id)
    now = utcnow()
    future = [event for event in series.events if event.starts_at > now]
    return render_template("series/end.html", series=series, future=future, action=ActionForm())


@bp.post("/<int:series_id>/end")
@refused
def confirm_end(series_id: int):
    series = series_or_404(series_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    now = utcnow()
    to_cancel = series_service.end_series(db.session, series, now)
    queued = [mail for event in to_cancel for mail in cancel_event(db.session, event, mail_settings(), now)]
    audited("series.end", ("series", series.id), f"{plural(len(to_cancel), 'sent round')} cancelled")
    db.session.commit()
    flash(f"The series has ended; {plural(len(to_cancel), 'sent round')} cancelled ({plural(len(queued), 'cancellation')} queued).", "success")
    for event in to_cancel:
        deliver_after_commit(event.id)
    return redirect(url_for("series.show", series_id=series.id))
