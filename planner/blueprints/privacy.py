"""Personal data on request, for admins: a person's data as a JSON download, and erasure after a confirmation."""

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for

from ..extensions import db
from ..forms import EraseForm
from ..mailer import deliver_after_commit, mail_settings
from ..models import Person, utcnow
from ..services.privacy import PrivacyError, erase_person, export_person
from .views import admins_only, audited

bp = Blueprint("privacy", __name__, url_prefix="/admin/people")
admins_only(bp)


@bp.get("/<int:person_id>/export.json")
def export(person_id: int):
    person = db.get_or_404(Person, person_id)
    data = export_person(db.session, person, utcnow())
    audited("person.export", ("person", person.id))
    db.session.commit()
    body = json.dumps(data, indent=2, ensure_ascii=False)
    headers = {"Content-Disposition": f"attachment; filename=person-{person.id}.json", "Cache-Control": "no-store"}
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/<int:person_id>/erase")
def confirm(person_id: int):
    person = db.get_or_404(Person, person_id)
    return render_template("privacy/erase.html", p=person, form=EraseForm())


@bp.post("/<int:person_id>/erase")
def erase(person_id: int):
    person = db.get_or_404(Person, person_id)
    form = EraseForm()
    if not form.validate_on_submit():
        abort(400)
    if form.confirm_email.data.strip().lower() != person.email:
        form.confirm_email.errors = ["That is not this person's email; nothing was erased."]
        return render_template("privacy/erase.html", p=person, form=form), 400
    try:
        erasure = erase_person(db.session, person, mail_settings(), utcnow())
    except PrivacyError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("people.show", person_id=person_id))
    audited("person.erase", ("person", person_id), erasure.summary)
    db.session.commit()
    for event_id in erasure.events:
        deliver_after_commit(event_id)
    flash(f"The personal data of person #{person_id} was erased.", "success")
    return redirect(url_for("people.show", person_id=person_id))
