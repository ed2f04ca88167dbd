"""The staff directory: list, search, a page per person, CSV download; for admins, CSV import with a preview and
changes to a person's availability (leave, opting back in)."""

from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..directory import DirectoryError
from ..extensions import db
from ..forms import ActionForm, ConfirmImportForm, UploadForm
from ..models import Person, StagedImport
from ..services.availability import AvailabilityError, opt_in, read_leave_date, set_leave
from ..services.ownership import visible_events
from ..services.people import (
    apply_import,
    departments,
    directory_csv,
    person_invitations,
    preview_import,
    search_people,
    stage_import,
    staged_file,
)
from .views import admin_view, audited, organisers_only

bp = Blueprint("people", __name__, url_prefix="/people")
organisers_only(bp)


@bp.get("/")
def index():
    text = request.args.get("q", "").strip()
    department = request.args.get("department", "")
    level_arg = request.args.get("level", "")
    level = int(level_arg) if level_arg.isascii() and level_arg.isdigit() else None
    found = search_people(db.session, text, department, level, page=request.args.get("page", 1, type=int))
    return render_template(
        "people/index.html",
        found=found,
        departments=departments(db.session),
        levels=current_app.config["LEVELS"],
        q=text,
        department=department,
        level=level,
    )


@bp.get("/directory.csv")
def export():
    filename = f"directory-{date.today().isoformat()}.csv"
    body = directory_csv(db.session, current_app.config["LEVELS"])
    audited("export.download", None, "directory.csv")
    db.session.commit()
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})


@bp.get("/<int:person_id>")
def show(person_id: int):
    person = db.get_or_404(Person, person_id)
    invitations = person_invitations(db.session, person, visible_events(current_user))
    return render_template("people/show.html", p=person, invitations=invitations)


@bp.route("/import", methods=["GET", "POST"])
@admin_view
def upload():
    form = UploadForm()
    problems = []
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            filename, data = upload_file.filename or "upload.csv", upload_file.read()
            staged = stage_import(db.session, current_user.id, filename, data, current_app.config["LEVELS"])
        except DirectoryError as error:
            db.session.rollback()
            flash(str(error), "error")
            problems = error.problems
        else:
            db.session.commit()
            return redirect(url_for("people.preview", staged_id=staged.id))
    status = 400 if problems or form.errors else 200
    return render_template("people/upload.html", form=form, problems=problems), status


def _staged(staged_id: int) -> StagedImport | None:
    staged = db.session.get(StagedImport, staged_id)
    if staged is not None and staged.organiser_id != current_user.id:
        abort(404)
    return staged


def _gone():
    flash("This import has already been applied or was discarded.", "info")
    return redirect(url_for("people.index"))


@bp.get("/import/<int:staged_id>")
@admin_view
def preview(staged_id: int):
    staged = _staged(staged_id)
    if staged is None:
        return _gone()
    staff = staged_file(staged)
    summary = preview_import(db.session, staff.rows)
    return render_template("people/preview.html", staged=staged, reading=staff.reading, summary=summary, form=ConfirmImportForm())


@bp.post("/import/<int:staged_id>")
@admin_view
def confirm(staged_id: int):
    staged = _staged(staged_id)
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    if staged is None:
        return _gone()
    try:
        summary = apply_import(db.session, staged, deactivate_missing=form.deactivate_missing.data)
    except DirectoryError:
        db.session.rollback()
        return _gone()
    deactivated = len(summary.missing) if form.deactivate_missing.data else 0
    audited("people.import", None, f"{len(summary.new)} new, {len(summary.changed)} changed, {deactivated} deactivated (upload)")
    db.session.commit()
    flash(
        f"Imported: {len(summary.new)} new, {len(summary.changed)} changed, {deactivated} deactivated.",
        "success",
    )
    return redirect(url_for("people.index"))


def _back():
    return redirect(request.form.get("next") if _is_people_url(request.form.get("next")) else url_for("people.index"))


def _is_people_url(target: str | None) -> bool:
    return bool(target) and target.startswith(url_for("people.index")) and "//" not in target


@bp.post("/<int:person_id>/opt-in")
@admin_view
def opt_back_in(person_id: int):
    person = db.get_or_404(Person, person_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        opt_in(db.session, person)
    except AvailabilityError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back()
    audited("person.opt_in", ("person", person.id))
    db.session.commit()
    flash(f"{person.name} may be invited again.", "success")
    return _back()


@bp.post("/<int:person_id>/leave")
@admin_view
def leave(person_id: int):
    person = db.get_or_404(Person, person_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        set_leave(db.session, person, read_leave_date(request.form.get("on_leave_until", "")), date.today())
    except AvailabilityError as error:
        db.session.rollback()
        flash(f"{person.name}: {error}", "error")
        return _back()
    audited("person.leave", ("person", person.id), "on leave" if person.on_leave_until else "back from leave")
    db.session.commit()
    until = person.on_leave_until
    message = f"is on leave until {until.isoformat()}." if until else "is no longer on leave."
    flash(f"{person.name} {message}", "success")
    return _back()
