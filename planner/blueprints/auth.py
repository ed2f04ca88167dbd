"""Organiser login and logout."""

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .. import oidc
from ..extensions import db
from ..forms import ActionForm, LoginForm
from ..services import audit
from ..services.accounts import AccountError, authenticate, end_sessions
from ..text import control_problem
from .views import audited

bp = Blueprint("auth", __name__, url_prefix="/auth")

#: what browsers (the WHATWG URL parser) and Werkzeug drop from a URL before reading it
_IGNORED_IN_URLS = str.maketrans("", "", "\t\r\n")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    config = current_app.config
    if config["SSO_ONLY"] is True and request.method == "POST":
        flash(f"Password login is turned off on this site: sign in with {config['OIDC_LABEL']}.", "error")
        return login_page(form), 403
    if form.validate_on_submit():
        try:
            organiser = authenticate(
                db.session,
                form.email.data,
                form.password.data,
                request.remote_addr or "unknown",
                max_failures=config["LOGIN_MAX_FAILURES"],
                max_failures_per_address=config["LOGIN_MAX_FAILURES_PER_IP"],
                window=timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]),
            )
        except AccountError as error:
            audit.record(db.session, "auth.login_failed", actor=audit.VISITOR, summary=f"{form.email.data.strip().lower()}: {error}",
                         remote_addr=request.remote_addr)
            db.session.commit()
            flash(str(error), "error")
            return login_page(form), 401
        login_user(organiser, remember=form.remember.data)
        audit.record(db.session, "auth.login", organiser=organiser, subject=("organiser", organiser.id), remote_addr=request.remote_addr)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
    return login_page(form)


def login_page(form: LoginForm) -> str:
    """Render the login page: the SSO button when SSO is configured, the password form unless SSO_ONLY."""
    config = current_app.config
    return render_template("auth/login.html", form=form, password_login=config["SSO_ONLY"] is not True,
                           sso_label=config["OIDC_LABEL"] if oidc.is_enabled(config) else None)


def safe_next(target: str | None) -> str | None:
    """Return target as a browser will read it when it is a path on this site, else None."""
    if not target:
        return None
    target = target.translate(_IGNORED_IN_URLS)
    if control_problem(target) or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.post("/logout")
@login_required
def logout():
    if ActionForm().validate_on_submit():
        end_sessions(current_user._get_current_object())
        audited("auth.logout", ("organiser", current_user.id))
        db.session.commit()
        logout_user()
        flash("You are logged out.", "info")
        at_provider = oidc.logout_url(session.pop(oidc.ID_TOKEN, None), current_app.config["BASE_URL"].rstrip("/")
                                      + url_for("auth.login"))
        if at_provider:
            return redirect(at_provider)
    return redirect(url_for("auth.login"))
