"""Feedback pages: the attendee's page (no login; GET shows, POST saves) and the organiser's results per event and series."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..extensions import db
from ..forms import ActionForm
from ..models import utcnow
from ..services import feedback
from ..tokens import TokenError
from .rsvp import PRIVATE_PAGE
from .views import audited, event_or_404, organisers_only, refusal_goes_to, series_or_404

bp = Blueprint("feedback", __name__, url_prefix="/feedback")
results_bp = Blueprint("feedback_results", __name__)

organisers_only(results_bp)


def _row(token: str):
    try:
        return feedback.find_feedback(db.session, token)
    except TokenError:
        abort(404)


def _page(row, status: int = 200, *, rating=None, met=None, comment=None):
    invitation = row.invitation
    page = render_template(
        "feedback/show.html",
        row=row,
        event=invitation.event,
        person=invitation.person,
        people=feedback.people_to_tick(db.session, invitation),
        rating=rating if rating is not None else str(row.rating or ""),
        met=met if met is not None else feedback.met_ids(db.session, invitation),
        comment=comment if comment is not None else row.comment or "",
        form=ActionForm(),
    )
    return page, status, PRIVATE_PAGE


@bp.get("/<token>")
def show(token: str):
    return _page(_row(token))


@bp.post("/<token>")
def save(token: str):
    row = _row(token)
    if not ActionForm().validate_on_submit():
        abort(400)
    rating, met, comment = request.form.get("rating"), request.form.getlist("met"), request.form.get("comment", "")
    try:
        feedback.save_feedback(db.session, row, rating, met, comment, utcnow())
    except feedback.FeedbackError as error:
        db.session.rollback()
        flash(str(error), "error")
        chosen = {int(value) for value in met if value.isdigit()}
        return _page(_row(token), 400, rating=rating or "", met=chosen, comment=comment)
    db.session.commit()
    flash("Thank you, your feedback is saved. You can change it on this page.", "success")
    return redirect(url_for("feedback.show", token=token), code=303)


@results_bp.get("/events/<int:event_id>/feedback")
def event_results(event_id: int):
    event = event_or_404(event_id)
    results = feedback.event_results(db.session, event)
    return render_template("feedback/event.html", event=event, results=results, action=ActionForm())


@results_bp.post("/events/<int:event_id>/feedback/switch")
@refusal_goes_to("feedback_results.event_results")
def switch(event_id: int):
    event = event_or_404(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    feedback.set_feedback(event, request.form.get("is_on") == "1")
    audited("feedback.switch", ("event", event.id), "on" if event.has_feedback else "off")
    db.session.commit()
    flash("Feedback mails are on for this event." if event.has_feedback else "Feedback mails are off for this event.", "success")
    return redirect(url_for("feedback_results.event_results", event_id=event.id))


@results_bp.get("/series/<int:series_id>/feedback")
def series_results(series_id: int):
    series = series_or_404(series_id)
    rounds = feedback.series_results(db.session, list(series.events))
    return render_template("feedback/series.html", series=series, rounds=rounds, total=feedback.overall(rounds))
