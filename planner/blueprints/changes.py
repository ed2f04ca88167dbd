"""Changing sent events: edit with a preview of the update mail, un-invite one person, cancel the event."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..errors import PlannerError
from ..extensions import db
from ..forms import ActionForm, EventForm
from ..mailer import deliver_after_commit, mail_settings
from ..models import Event, utcnow
from ..services.changes import (
    apply_update,
    cancel_event,
    preview_uninvite,
    preview_update,
    uninvite,
)
from ..services.events import local, still_invited
from ..text import plural
from .views import audited, event_or_404, invitation_or_404, organisers_only, refusal_goes_to

bp = Blueprint("changes", __name__, url_prefix="/events")
organisers_only(bp)


def _prefilled(event: Event) -> EventForm:
    starts, ends, deadline = local(event.starts_at, event), local(event.ends_at, event), local(event.rsvp_deadline_at, event)
    return EventForm(data={
        "kind": event.kind, "title": event.title, "description": event.description, "location": event.location,
        "day": starts.date(), "start": starts.time(), "end": ends.time(), "timezone": event.timezone,
        "capacity": event.capacity, "rsvp_deadline": deadline.replace(tzinfo=None) if deadline else None,
        "reminder_days": event.reminder_days, "is_auto_backfill": event.is_auto_backfill, "offer_hours": event.offer_hours,
    })


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
def edit(event_id: int):
    event = event_or_404(event_id)
    if request.method == "GET":
        return render_template("changes/edit.html", event=event, form=_prefilled(event))
    form = EventForm()
    if form.validate_on_submit():
        try:
            preview = preview_update(db.session, event, form.to_draft(), utcnow())
        except PlannerError as error:
            form.form_errors.append(str(error))
        else:
            values = {field.name: request.form.get(field.name, "") for field in form if field.name != "csrf_token"}
            return render_template("changes/preview_edit.html", event=event, preview=preview, values=values)
    return render_template("changes/edit.html", event=event, form=form), 400


@bp.post("/<int:event_id>/edit/confirm")
def confirm_edit(event_id: int):
    event = event_or_404(event_id)
    form = EventForm()
    if not form.validate_on_submit():
        return render_template("changes/edit.html", event=event, form=form), 400
    try:
        queued = apply_update(db.session, event, form.to_draft(), mail_settings(), utcnow())
    except PlannerError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return render_template("changes/edit.html", event=event, form=form), 409
    audited("event.edit", ("event", event.id), f"{plural(len(queued), 'update')} queued")
    db.session.commit()
    saved = f"Event saved; {plural(len(queued), 'update')} queued." if queued else "Event saved; calendars needed no update."
    flash(saved, "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.get("/<int:event_id>/cancel")
def cancel(event_id: int):
    event = event_or_404(event_id)
    return render_template("changes/cancel.html", event=event, recipients=still_invited(event), action=ActionForm())


@bp.post("/<int:event_id>/cancel")
@refusal_goes_to("events.detail")
def confirm_cancel(event_id: int):
    event = event_or_404(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    queued = cancel_event(db.session, event, mail_settings(), utcnow())
    audited("event.cancel", ("event", event.id), f"{plural(len(queued), 'cancellation')} queued")
    db.session.commit()
    flash(f"Event cancelled; {plural(len(queued), 'cancellation')} queued.", "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.get("/<int:event_id>/invitations/<int:invitation_id>/uninvite", endpoint="uninvite")
def uninvite_page(event_id: int, invitation_id: int):
    invitation = invitation_or_404(event_id, invitation_id)
    promoted = preview_uninvite(db.session, invitation)
    return render_template("changes/uninvite.html", event=invitation.event, invitation=invitation, promoted=promoted,
                           action=ActionForm())


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/uninvite", endpoint="confirm_uninvite")
@refusal_goes_to("events.detail")
def uninvite_person(event_id: int, invitation_id: int):
    invitation = invitation_or_404(event_id, invitation_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    uninvite(db.session, invitation, mail_settings(), utcnow())
    audited("invitation.withdraw", ("invitation", invitation.id))
    db.session.commit()
    flash(f"{invitation.person.name} is un-invited; a cancellation is queued for them only.", "success")
    deliver_after_commit(event_id)
    return redirect(url_for("events.detail", event_id=event_id))
