"""Changing sent events: edit with a preview of the update mail, un-invite one person, cancel the event."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from ..extensions import db
from ..forms import ActionForm, EventForm
from ..mailer import counted, deliver_after_commit, mail_settings
from ..models import Event, Invitation, utcnow
from ..services.changes import ChangeError, apply_update, cancel_event, preview_uninvite, preview_update, uninvite
from ..services.events import EventError, local, still_invited
from ..services.replies import recent_inbound

bp = Blueprint("changes", __name__, url_prefix="/events")


@bp.before_request
@login_required
def require_login():
    """Every change page is for organisers only."""


@bp.app_template_global()
def inbound_mail_for(event: Event) -> list:
    """Recent calendar replies and bounces for an event, for its page."""
    return recent_inbound(db.session, event.id)


def _event(event_id: int) -> Event:
    return db.get_or_404(Event, event_id)


def _prefilled(event: Event) -> EventForm:
    starts, ends, deadline = local(event.starts_at, event), local(event.ends_at, event), local(event.rsvp_deadline_at, event)
    return EventForm(data={
        "kind": event.kind, "title": event.title, "description": event.description, "location": event.location,
        "day": starts.date(), "start": starts.time(), "end": ends.time(), "timezone": event.timezone,
        "capacity": event.capacity, "rsvp_deadline": deadline.replace(tzinfo=None) if deadline else None,
    })


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
def edit(event_id: int):
    event = _event(event_id)
    if request.method == "GET":
        return render_template("changes/edit.html", event=event, form=_prefilled(event))
    form = EventForm()
    if form.validate_on_submit():
        try:
            preview = preview_update(db.session, event, form.to_draft(), utcnow())
        except (EventError, ChangeError) as error:
            form.form_errors.append(str(error))
        else:
            values = {field.name: request.form.get(field.name, "") for field in form if field.name != "csrf_token"}
            return render_template("changes/preview_edit.html", event=event, preview=preview, values=values)
    return render_template("changes/edit.html", event=event, form=form), 400


@bp.post("/<int:event_id>/edit/confirm")
def confirm_edit(event_id: int):
    event = _event(event_id)
    form = EventForm()
    if not form.validate_on_submit():
        return render_template("changes/edit.html", event=event, form=form), 400
    try:
        queued = apply_update(db.session, event, form.to_draft(), mail_settings(), utcnow())
    except (EventError, ChangeError) as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return render_template("changes/edit.html", event=event, form=form), 409
    db.session.commit()
    saved = f"Event saved; {counted(len(queued), 'update')} queued." if queued else "Event saved; calendars needed no update."
    flash(saved, "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.get("/<int:event_id>/cancel")
def cancel(event_id: int):
    event = _event(event_id)
    return render_template("changes/cancel.html", event=event, recipients=still_invited(event), action=ActionForm())


@bp.post("/<int:event_id>/cancel")
def confirm_cancel(event_id: int):
    event = _event(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        queued = cancel_event(db.session, event, mail_settings(), utcnow())
    except ChangeError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    db.session.commit()
    flash(f"Event cancelled; {counted(len(queued), 'cancellation')} queued.", "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


def _invitation(event_id: int, invitation_id: int) -> Invitation:
    invitation = db.get_or_404(Invitation, invitation_id)
    if invitation.event_id != event_id:
        abort(404)
    return invitation


@bp.get("/<int:event_id>/invitations/<int:invitation_id>/uninvite", endpoint="uninvite")
def uninvite_page(event_id: int, invitation_id: int):
    invitation = _invitation(event_id, invitation_id)
    promoted = preview_uninvite(db.session, invitation)
    return render_template("changes/uninvite.html", event=invitation.event, invitation=invitation, promoted=promoted,
                           action=ActionForm())


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/uninvite", endpoint="confirm_uninvite")
def uninvite_person(event_id: int, invitation_id: int):
    invitation = _invitation(event_id, invitation_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        uninvite(db.session, invitation, mail_settings(), utcnow())
    except ChangeError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("events.detail", event_id=event_id))
    db.session.commit()
    flash(f"{invitation.person.name} is un-invited; a cancellation is queued for them only.", "success")
    deliver_after_commit(event_id)
    return redirect(url_for("events.detail", event_id=event_id))
