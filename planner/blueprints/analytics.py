"""Network health: figures, pictures and CSV of who met whom across departments and levels; invite the isolated next."""

import csv
import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..charts import heat_map, histogram, line_chart
from ..errors import PlannerError
from ..extensions import db
from ..forms import ActionForm
from ..models import EventKind, Series, utcnow
from ..services import analytics
from ..services.ownership import visible_events, visible_series
from ..text import plural, safe_cell
from .views import audited, organisers_only

bp = Blueprint("analytics", __name__, url_prefix="/analytics")
organisers_only(bp)

#: how many names the isolation and never-invited lists show on the page (the CSV holds all)
SHOWN = 100
PERCENT_TICKS = [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")]
EI_TICKS = [(-1.0, "-1"), (0.0, "0"), (1.0, "+1")]


def _report(args) -> tuple[analytics.Report, list[Series], list[str]]:
    config = current_app.config
    all_series = list(db.session.scalars(select(Series).where(visible_series(current_user))))
    today = utcnow().date()
    filters, problems = analytics.parse_filters(args, today, config["ANALYTICS_DAYS"], [item.id for item in all_series])
    chain = analytics.series_chain(all_series, filters.series_id) if filters.series_id else None
    report = analytics.report(
        db.session, filters, today, series_ids=chain, min_group=config["ANALYTICS_MIN_GROUP"],
        junior_max=config["ANALYTICS_JUNIOR_MAX_LEVEL"], level_names=config["LEVELS"],
    )
    return report, all_series, problems


@bp.get("")
def index():
    report, all_series, problems = _report(request.args)
    for problem in problems:
        flash(problem, "error")
    months = [month.label for month in report.trends]
    return render_template(
        "analytics/index.html",
        report=report,
        all_series=sorted(all_series, key=lambda item: (item.title, item.id)),
        kinds=list(EventKind),
        departments_map=heat_map(report.departments.labels, report.departments.counts),
        levels_map=heat_map(report.levels.labels, report.levels.counts),
        spread_chart=histogram(report.spread.bins),
        shares_chart=line_chart(months, [("Coverage", [m.coverage for m in report.trends]),
                                         ("Bridge", [m.bridge for m in report.trends])],
                                low=0.0, high=1.0, ticks=PERCENT_TICKS),
        ei_chart=line_chart(months, [("E-I index", [m.ei_index for m in report.trends])], low=-1.0, high=1.0, ticks=EI_TICKS),
        targets=analytics.invite_targets(db.session, all_series, utcnow(), visible=visible_events(current_user)),
        shown=SHOWN,
        action=ActionForm(),
    )


def _share(value: float) -> str:
    return f"{value:.4f}"


def _matrix(matrix: analytics.Matrix) -> tuple[list[str], list[list]]:
    return ["ties", *matrix.labels], [[row, *(matrix.get(row, column) for column in matrix.labels)] for row in matrix.labels]


def _tables(report: analytics.Report) -> dict[str, tuple[list[str], list[list]]]:
    """Return every figure of the page as (header, rows), by the name of its CSV file."""
    health = report.health
    return {
        "headline": (["figure", "value"], [
            ["period start", report.filters.start.isoformat()], ["period end", report.filters.end.isoformat()],
            ["people", health.people], ["ties", report.ties], ["coverage", _share(health.coverage)],
            ["bridge", _share(health.bridge)], ["ei_index", _share(health.ei_index)],
            ["isolated", len(health.isolated)], ["never invited", len(report.never_invited)],
            ["reported first meetings", report.reported_ties], ["reported coverage", _share(report.reported.coverage)],
            ["reported bridge", _share(report.reported.bridge)], ["reported ei_index", _share(report.reported.ei_index)],
        ]),
        "departments": (["department", "people", "coverage", "ei_index", "ties_outside", "ties_inside"], [
            [group.name, group.people, _share(group.coverage), _share(group.ei_index), group.external, group.internal]
            for group in report.groups
        ]),
        "department-ties": _matrix(report.departments),
        "level-ties": _matrix(report.levels),
        "isolated": (["name", "department", "level", "joined_on", "newcomer", "cannot_be_invited"], [
            [item.member.name, item.member.department, report.level_names.get(item.member.level, item.member.level),
             item.member.joined_on.isoformat() if item.member.joined_on else "", "yes" if item.is_newcomer else "",
             item.unavailable or ""] for item in report.isolated
        ]),
        "never-invited": (["name", "department", "level"], [
            [member.name, member.department, report.level_names.get(member.level, member.level)]
            for member in report.never_invited
        ]),
        "invitations": (["invitations", "people"], [[label, count] for label, count in report.spread.bins]),
        "trends": (["month", "people", "ties", "coverage", "bridge", "ei_index"], [
            [month.first_day.strftime("%Y-%m"), month.people, month.ties, _share(month.coverage), _share(month.bridge),
             _share(month.ei_index)] for month in report.trends
        ]),
    }


#: the CSV files the page offers, in its order
FIGURES = ("headline", "departments", "department-ties", "level-ties", "isolated", "never-invited", "invitations", "trends")


@bp.get("/<figure>.csv")
def download(figure: str):
    if figure not in FIGURES:
        abort(404)
    report, _, _ = _report(request.args)
    header, rows = _tables(report)[figure]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    name = f"network-{figure}-{report.filters.start.isoformat()}-{report.filters.end.isoformat()}.csv"
    audited("export.download", None, name)
    db.session.commit()
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/invite-next")
def invite_next():
    """Add the ticked isolated people as must people to the chosen series' next draft round or draft event."""
    if not ActionForm().validate_on_submit():
        abort(400)
    back = redirect(url_for("analytics.index", **{key: value for key, value in request.form.items()
                                                   if key in ("start", "end", "kind", "series")}) + "#isolated")
    person_ids = [int(value) for value in request.form.getlist("person_id") if value.isdigit()]
    try:
        all_series = list(db.session.scalars(select(Series).where(visible_series(current_user))))
        targets = analytics.invite_targets(db.session, all_series, utcnow(), visible=visible_events(current_user))
        event = analytics.resolve_target(db.session, targets, request.form.get("target", ""))
        done = analytics.invite_next(db.session, event, person_ids, utcnow(),
                                     lookback_days=current_app.config["LOOKBACK_DAYS"])
    except PlannerError as error:  # one action: back to the page with its filters, not to an event
        db.session.rollback()
        flash(str(error), "error")
        return back
    if done.added:
        audited("proposal.add", ("event", event.id), f"{plural(len(done.added), 'person', 'people')} (must) from network health")
    db.session.commit()
    flash(done.message(), "success" if done.added else "error")
    return back
