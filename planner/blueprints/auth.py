"""Organiser login and logout."""

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required, login_user, logout_user

from ..extensions import db
from ..forms import ActionForm, LoginForm
from ..services.accounts import AccountError, authenticate

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            organiser = authenticate(
                db.session,
                form.email.data,
                form.password.data,
                request.remote_addr or "unknown",
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                window=timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"]),
            )
        except AccountError as error:
            db.session.commit()
            flash(str(error), "error")
            return render_template("auth/login.html", form=form), 401
        login_user(organiser, remember=form.remember.data)
        return redirect(_safe_next(request.args.get("next")) or url_for("events.index"))
    return render_template("auth/login.html", form=form)


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.post("/logout")
@login_required
def logout():
    if ActionForm().validate_on_submit():
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
