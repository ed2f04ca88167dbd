"""An event's exports for organisers: attendees, answers with notes and the seating plan as CSV, and a printable plan."""

from flask import Blueprint, Response, abort, current_app, render_template

from ..extensions import db
from ..filters import level_name
from ..services import exports
from .views import audited, event_or_404, not_for_viewers, organisers_only

bp = Blueprint("exports", __name__, url_prefix="/events/<int:event_id>/exports")

organisers_only(bp)


def _level(level: int) -> str:
    return level_name(current_app, level)


#: what each download holds: its header and how its rows are made
DOWNLOADS = {
    "attendees": (exports.ATTENDEE_HEADER, lambda event: exports.attendee_rows(db.session, event, _level)),
    "answers": (exports.ANSWER_HEADER, lambda event: exports.answer_rows(db.session, event)),
    "seating": (exports.SEATING_HEADER, lambda event: exports.seating_rows(db.session, event, _level)),
}


@bp.get("/")
def index(event_id: int):
    event = event_or_404(event_id)
    plan = exports.seating_plan_for_export(db.session, event)
    return render_template("exports/index.html", event=event, plan=plan)


@bp.get("/<what>.csv")
@not_for_viewers
def download(event_id: int, what: str):
    event = event_or_404(event_id)
    if what not in DOWNLOADS:
        abort(404)
    header, rows = DOWNLOADS[what]
    body = exports.to_csv(header, rows(event))
    audited("export.download", ("event", event.id), f"{what}.csv")
    db.session.commit()
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{exports.export_filename(event, what)}"',
            "Cache-Control": "no-store",
        },
    )
