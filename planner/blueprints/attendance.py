"""Attendance after an event: the organiser marks who said yes but did not come; the pairs who met follow."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..extensions import db
from ..forms import ActionForm
from ..models import Answer, utcnow
from ..services.attendance import set_no_shows
from ..text import plural
from .views import audited, event_or_404, organisers_only, refusal_goes_to

bp = Blueprint("attendance", __name__, url_prefix="/events")


organisers_only(bp)


@bp.get("/<int:event_id>/attendance")
def show(event_id: int):
    event = event_or_404(event_id)
    came = [invitation for invitation in event.invitations if invitation.answer == Answer.YES and invitation.cancelled_at is None]
    return render_template("attendance/show.html", event=event, came=came, action=ActionForm(), now=utcnow())


@bp.post("/<int:event_id>/attendance")
@refusal_goes_to("attendance.show")
def save(event_id: int):
    event = event_or_404(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    chosen = {int(value) for value in request.form.getlist("no_show") if value.isdigit()}
    count = set_no_shows(db.session, event, chosen, utcnow())
    audited("attendance.record", ("event", event.id), plural(count, "no-show"))
    db.session.commit()
    flash("Everyone who said yes came." if count == 0 else f"{plural(count, 'no-show')} saved.", "success")
    return redirect(url_for("attendance.show", event_id=event.id))
