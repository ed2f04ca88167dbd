"""What every organiser blueprint shares: the login guard, loading or 404, and turning a refusal into a message."""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..errors import PlannerError
from ..extensions import db
from ..models import Event, Invitation
from ..services import audit

T = TypeVar("T")


def organisers_only(bp: Blueprint) -> None:
    """Make every page of the blueprint ask for an organiser's login."""
    bp.before_request(login_required(lambda: None))


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


def event_or_404(event_id: int) -> Event:
    """Return the event with that id, or answer 404."""
    return db.get_or_404(Event, event_id)


def invitation_or_404(event_id: int, invitation_id: int) -> Invitation:
    """Return the event's invitation with that id, or answer 404 (also when it belongs to another event)."""
    invitation = db.get_or_404(Invitation, invitation_id)
    if invitation.event_id != event_id:
        abort(404)
    return invitation


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
