"""Single sign-on through the configured OpenID provider: send the organiser there, take its answer, log in."""

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_login import login_user

from .. import oidc
from ..errors import PlannerError
from ..extensions import db
from ..services import audit
from ..services.sso import organiser_for_claims
from .auth import safe_next

bp = Blueprint("sso", __name__, url_prefix="/auth/sso")

#: the session key of the page to show after the login
_NEXT = "sso_next"


@bp.record_once
def _register_client(state) -> None:
    oidc.init_app(state.app)


@bp.before_request
def _only_when_configured():
    if not oidc.is_enabled(current_app.config):
        abort(404)


@bp.post("/login")
def login():
    session[_NEXT] = safe_next(request.form.get("next"))
    try:
        return oidc.begin_login(current_app.config["BASE_URL"].rstrip("/") + url_for("sso.callback"))
    except PlannerError as error:
        flash(str(error), "error")
        return redirect(url_for("auth.login"))


@bp.get("/callback")
def callback():
    target = safe_next(session.pop(_NEXT, None))
    try:
        claims, id_token = oidc.finish_login()
        organiser = organiser_for_claims(db.session, claims, allowed_domains=current_app.config["OIDC_ALLOWED_DOMAINS"])
    except PlannerError as error:
        db.session.rollback()
        audit.record(db.session, "auth.login_failed", actor=audit.VISITOR, summary=f"single sign-on: {error}",
                     remote_addr=request.remote_addr)
        db.session.commit()
        flash(str(error), "error")
        return redirect(url_for("auth.login"))
    audit.record(db.session, "auth.login", organiser=organiser, subject=("organiser", organiser.id),
                 summary="single sign-on", remote_addr=request.remote_addr)
    db.session.commit()
    login_user(organiser)
    session[oidc.ID_TOKEN] = oidc.session_marker(id_token)
    return redirect(target or url_for("dashboard.index"))
