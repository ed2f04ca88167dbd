"""Administration: the organisers, their roles, deactivation, and new organisers with a first password."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ..errors import PlannerError
from ..extensions import db
from ..forms import ActionForm
from ..models import Organiser, OrganiserRole, utcnow
from ..services.accounts import create_organiser, owned_count, set_active, set_role
from ..text import plural
from .views import admins_only, audited

bp = Blueprint("admin", __name__, url_prefix="/admin")
admins_only(bp)


@bp.get("/")
def index():
    organisers = db.session.scalars(select(Organiser).order_by(Organiser.is_active.desc(), Organiser.name, Organiser.id)).all()
    return render_template("admin/index.html", organisers=organisers, roles=list(OrganiserRole))


def _checked() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _done(action):
    """Run one change, commit it and flash its message; a refusal is rolled back and flashed instead."""
    try:
        message = action()
    except PlannerError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("admin.index"), code=303)


@bp.post("/organisers")
def create():
    _checked()
    role = request.form.get("role", "")

    def add() -> str:
        organiser = create_organiser(db.session, request.form.get("email", ""), request.form.get("name", ""),
                                     request.form.get("password", ""),
                                     OrganiserRole(role) if role in set(OrganiserRole) else OrganiserRole.ORGANISER)
        audited("organiser.create", ("organiser", organiser.id), f"{organiser.email} as {organiser.role}")
        return f"{organiser.email} can log in now ({organiser.role}); tell them their first password."

    return _done(add)


@bp.post("/organisers/<int:organiser_id>/role")
def change_role(organiser_id: int):
    organiser = db.get_or_404(Organiser, organiser_id)
    _checked()
    role = request.form.get("role", "")
    if role not in set(OrganiserRole):
        abort(400)

    def change() -> str:
        before = organiser.role
        left = set_role(db.session, organiser, OrganiserRole(role))
        places = f"; left {plural(left, 'co-organiser place')}" if left else ""
        audited("organiser.role", ("organiser", organiser.id), f"{organiser.email}: {before} -> {role}{places}")
        message = f"{organiser.email} is now {role}."
        if left:
            message += f" They no longer co-organise {plural(left, 'event or series', 'events or series')}."
        owned = owned_count(db.session, organiser, utcnow()) if role == OrganiserRole.VIEWER else 0
        if owned:
            message += (f" They still own {plural(owned, 'series or event to come', 'series or events to come')}: open "
                        "each to hand it over to a co-organiser.")
        return message

    return _done(change)


@bp.post("/organisers/<int:organiser_id>/active")
def change_active(organiser_id: int):
    organiser = db.get_or_404(Organiser, organiser_id)
    _checked()
    is_active = request.form.get("is_active") == "1"

    def change() -> str:
        set_active(db.session, organiser, is_active)
        audited("organiser.activate" if is_active else "organiser.deactivate", ("organiser", organiser.id), organiser.email)
        return f"{organiser.email} can log in again." if is_active else f"{organiser.email} is deactivated and logged out."

    return _done(change)
