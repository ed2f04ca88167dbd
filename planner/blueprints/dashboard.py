"""The dashboard: the page after login."""

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from ..extensions import db
from ..models import utcnow
from ..services.dashboard import Thresholds, dashboard
from ..services.ownership import visible_events
from ..services.seating import SeatingSettings
from .views import organisers_only

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
organisers_only(bp)


def thresholds() -> Thresholds:
    """Return the configured limits of what the dashboard lists and flags."""
    config = current_app.config
    return Thresholds(
        upcoming=config["DASHBOARD_UPCOMING"],
        deadline_days=config["ATTENTION_DEADLINE_DAYS"],
        unanswered_share=config["ATTENTION_UNANSWERED_SHARE"],
        table_size=SeatingSettings().max_size,
    )


@bp.get("/")
def index():
    return render_template("dashboard/index.html", board=dashboard(db.session, utcnow(), thresholds(), visible_events(current_user)))
