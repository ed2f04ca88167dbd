"""What every organiser blueprint shares: the login and role guards, loading or 404 (with the ownership check), and turning
a refusal into a message."""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..errors import PlannerError
from ..extensions import db
from ..models import Event, Invitation, Organiser, OutgoingMail, Series
from ..services import audit, ownership

T = TypeVar("T")

#: the methods that change nothing: the only ones a viewer may use
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def organisers_only(bp: Blueprint) -> None:
    """Make every page of the blueprint ask for an organiser's login, and refuse every change to a viewer (403)."""

    @bp.before_request
    def organiser_or_refused():
        if not current_user.is_authenticated:
            return login_required(lambda: None)()
        if request.method not in SAFE_METHODS and not current_user.can_change:
            abort(403)
        return None


def admins_only(bp: Blueprint) -> None:
    """Make every page of the blueprint ask for a logged-in admin (403 for other organisers)."""

    @bp.before_request
    def admin_or_403():
        if not current_user.is_authenticated:
            return login_required(lambda: None)()
        if not current_user.is_admin:
            abort(403)
        return None


def audited(action: str, subject: tuple[str, int | None] | None = None, summary: str = "") -> None:
    """Record a change by the logged-in organiser in the audit log (committed with the change)."""
    audit.record(db.session, action, organiser=current_user, subject=subject, summary=summary,
                 remote_addr=request.remote_addr)


def _view_refused_unless(allowed: Callable[[Organiser], bool]) -> Callable[[Callable], Callable]:
    """Return a decorator of one view that answers 403 unless the logged-in organiser is allowed."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def allowed_or_403(**view_args):
            if not allowed(current_user):
                abort(403)
            return view(**view_args)

        return allowed_or_403

    return decorate


#: one view of an organiser blueprint that only admins may use (403 for others)
admin_view = _view_refused_unless(lambda organiser: organiser.is_admin)
#: a download of people's answers, notes or needs: viewers see figures, not those (403)
not_for_viewers = _view_refused_unless(lambda organiser: organiser.can_change)


def event_or_404(event_id: int) -> Event:
    """Return the event with that id if the logged-in organiser may see it, or answer 404 (its existence stays hidden)."""
    event = db.get_or_404(Event, event_id)
    if not ownership.may_see_event(db.session, current_user, event):
        abort(404)
    return event


def series_or_404(series_id: int) -> Series:
    """Return the series with that id if the logged-in organiser may see it, or answer 404."""
    series = db.get_or_404(Series, series_id)
    if not ownership.may_see_series(db.session, current_user, series):
        abort(404)
    return series


def invitation_or_404(event_id: int, invitation_id: int) -> Invitation:
    """Return the event's invitation with that id, or answer 404 (also when it belongs to another event)."""
    event = event_or_404(event_id)
    invitation = db.get_or_404(Invitation, invitation_id)
    if invitation.event_id != event.id:
        abort(404)
    return invitation


def mail_or_404(event_id: int, mail_id: int) -> OutgoingMail:
    """Return the event's outgoing mail with that id, or answer 404."""
    event = event_or_404(event_id)
    mail = db.get_or_404(OutgoingMail, mail_id)
    if mail.event_id != event.id:
        abort(404)
    return mail


def refusal_goes_to(endpoint: str, code: int = 302, *, key: str = "event_id") -> Callable:
    """Decorate a view of one event (or of what `key` names): a PlannerError it raises is rolled back, flashed and
    redirected to endpoint."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def refusing(**view_args):
            try:
                return view(**view_args)
            except PlannerError as error:
                db.session.rollback()
                flash(str(error), "error")
                return redirect(url_for(endpoint, **{key: view_args[key]}), code=code)

        return refusing

    return decorate


def committed_or_shown(form, action: Callable[[], T], recorded: Callable[[T], None] | None = None) -> T | None:
    """Run the service call of a submitted form (then `recorded`, its audit entry) and commit; on a PlannerError roll back,
    show it on the form, return None."""
    try:
        result = action()
    except PlannerError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return None
    if recorded is not None:
        recorded(result)
    db.session.commit()
    return result
