"""The admin's audit log: newest first, filtered, a page at a time, and as CSV; no page changes or removes an entry."""

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context

from ..extensions import db
from ..services import audit
from ..text import safe_cell
from .views import admins_only, audited

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
admins_only(bp)

#: the filter fields of the page, as they appear in its address
FILTER_FIELDS = ("actor", "action", "object", "object_id", "from", "to")
#: how much CSV text is gathered before it is sent on
CHUNK = 64 * 1024


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])


def _day(text: str, name: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"The {name} date must look like 2027-03-01.")
        return None


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), _zone()) if day else None


def read_filter(args) -> tuple[audit.AuditFilter, list[str]]:
    """Return the filter the query string asks for (dates are whole days in the installation's timezone) and its problems."""
    problems: list[str] = []
    action = args.get("action", "")
    if action and action not in audit.ACTIONS:
        problems.append(f"{action!r} is not an action the log records.")
    object_id = args.get("object_id", "").strip()
    if object_id and not (object_id.isascii() and object_id.isdigit()):
        problems.append("The object id must be a whole number.")
    since, until = _day(args.get("from", ""), "from", problems), _day(args.get("to", ""), "to", problems)
    wanted = audit.AuditFilter(
        actor=args.get("actor", "").strip(),
        action=action if action in audit.ACTIONS else "",
        subject_type=args.get("object", "").strip(),
        subject_id=int(object_id) if object_id.isascii() and object_id.isdigit() else None,
        since=_start_of(since),
        until=_start_of(until + timedelta(days=1)) if until else None,
    )
    return wanted, problems


@bp.get("/")
def index():
    wanted, problems = read_filter(request.args)
    before = request.args.get("before", "")
    page = audit.page_of(db.session, wanted, before=int(before) if before.isdigit() else None)
    kept = {name: request.args[name] for name in FILTER_FIELDS if request.args.get(name)}
    return _page(page, kept, problems, is_later_page=before.isdigit())


def _page(page: audit.AuditPage, kept: dict, problems: list[str], *, is_later_page: bool = False):
    body = render_template("audit/index.html", page=page, actions=audit.ACTIONS, kept=kept, problems=problems, zone=_zone(),
                           is_later_page=is_later_page)
    return body, 400 if problems else 200


@bp.get("/audit-log.csv")
def download():
    wanted, problems = read_filter(request.args)
    if problems:
        return _page(audit.AuditPage([], None), {}, problems)
    kept = ", ".join(f"{name}={request.args[name]}" for name in FILTER_FIELDS if request.args.get(name))
    audited("export.download", None, f"audit-log.csv {kept}".strip())
    db.session.commit()
    filename = f"audit-log-{date.today().isoformat()}.csv"
    return Response(stream_with_context(_csv_chunks(wanted)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _csv_chunks(wanted: audit.AuditFilter):
    """Yield the CSV of the matching entries in pieces of about CHUNK characters (the log is read in batches)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(audit.CSV_HEADER)
    for row in audit.csv_rows(db.session, wanted):
        writer.writerow([safe_cell(cell) for cell in row])
        if out.tell() >= CHUNK:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
