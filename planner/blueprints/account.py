"""The logged-in organiser's own settings: how they hear about answers (off, a daily digest, each answer)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..models import DigestMode, utcnow
from .views import audited, organisers_only

bp = Blueprint("account", __name__, url_prefix="/account")
organisers_only(bp)

CHOICES = [
    (DigestMode.DAILY, "One digest a day: new answers, waiting-list moves, bounces and mail problems"),
    (DigestMode.EACH, "A mail for each new answer"),
    (DigestMode.OFF, "No mail"),
]


@bp.get("/notifications")
def notifications():
    """Show the organiser's digest setting."""
    return render_template("account/notifications.html", choices=CHOICES, current=current_user.digest)


@bp.post("/notifications")
def save_notifications():
    """Change the organiser's digest setting; news from before the change is not reported."""
    choice = request.form.get("digest", "")
    if choice not in set(DigestMode):
        flash("Choose a daily digest, a mail per answer or no mail.", "error")
        return redirect(url_for("account.notifications"))
    if choice != current_user.digest:
        current_user.digest = DigestMode(choice)
        current_user.digest_since = utcnow()
        audited("account.notifications", ("organiser", current_user.id), choice)
        db.session.commit()
    flash("Notifications saved.", "success")
    return redirect(url_for("account.notifications"))
