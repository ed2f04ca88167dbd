"""Attendance after an event: the organiser marks who said yes but did not come; the pairs who met follow."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from ..errors import PlannerError
from ..extensions import db
from ..forms import ActionForm
from ..models import Answer, Event, utcnow
from ..services.attendance import set_no_shows

bp = Blueprint("attendance", __name__, url_prefix="/events")


@bp.before_request
@login_required
def require_login():
    """Attendance is for organisers only."""


@bp.get("/<int:event_id>/attendance")
def show(event_id: int):
    event = db.get_or_404(Event, event_id)
    came = [invitation for invitation in event.invitations if invitation.answer == Answer.YES and invitation.cancelled_at is None]
    return render_template("attendance/show.html", event=event, came=came, action=ActionForm(), now=utcnow())


@bp.post("/<int:event_id>/attendance")
def save(event_id: int):
    event = db.get_or_404(Event, event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    chosen = {int(value) for value in request.form.getlist("no_show") if value.isdigit()}
    try:
        count = set_no_shows(db.session, event, chosen, utcnow())
    except PlannerError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("attendance.show", event_id=event.id))
    db.session.commit()
    flash("Everyone who said yes came." if count == 0 else f"{count} no-show{'s' if count != 1 else ''} saved.", "success")
    return redirect(url_for("attendance.show", event_id=event.id))
