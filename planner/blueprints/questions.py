"""The organiser's side of needs and questions: an event's custom questions (add, edit, remove) and its venue list as CSV."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for

from ..extensions import db
from ..forms import ActionForm, QuestionForm
from ..models import Question
from ..services.needs import needs_counts, venue_csv
from ..services.questions import QUESTION_KINDS, add_question, delete_question, questions_of, update_question
from .views import audited, event_or_404, not_for_viewers, organisers_only, refusal_goes_to

bp = Blueprint("questions", __name__, url_prefix="/events")
organisers_only(bp)


def _question_or_404(event_id: int, question_id: int) -> Question:
    question = db.get_or_404(Question, question_id)
    if question.event_id != event_id:
        abort(404)
    return question


@bp.get("/<int:event_id>/questions")
def index(event_id: int):
    return _index(event_id, QuestionForm(formdata=None))


def _index(event_id: int, form: QuestionForm, status: int = 200):
    event = event_or_404(event_id)
    page = render_template("questions/index.html", event=event, questions=questions_of(db.session, event.id), form=form,
                           kinds=QUESTION_KINDS, action=ActionForm())
    return page, status


@bp.post("/<int:event_id>/questions")
@refusal_goes_to("questions.index", 303)
def add(event_id: int):
    event = event_or_404(event_id)
    form = QuestionForm()
    if not form.validate_on_submit():
        return _index(event_id, form, 400)
    question = add_question(db.session, event, form.to_draft())
    audited("question.add", ("question", question.id), f"event {event.id}")
    db.session.commit()
    flash("Question added.", "success")
    return redirect(url_for("questions.index", event_id=event_id), code=303)


@bp.route("/<int:event_id>/questions/<int:question_id>", methods=["GET", "POST"])
@refusal_goes_to("questions.index", 303)
def edit(event_id: int, question_id: int):
    event = event_or_404(event_id)
    question = _question_or_404(event_id, question_id)
    form = QuestionForm(obj=question)
    if form.validate_on_submit():
        update_question(db.session, event, question, form.to_draft())
        audited("question.edit", ("question", question.id), f"event {event.id}")
        db.session.commit()
        flash("Question saved.", "success")
        return redirect(url_for("questions.index", event_id=event_id), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("questions/edit.html", event=event, question=question, form=form), status


@bp.post("/<int:event_id>/questions/<int:question_id>/delete")
@refusal_goes_to("questions.index", 303)
def delete(event_id: int, question_id: int):
    event = event_or_404(event_id)
    question = _question_or_404(event_id, question_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    delete_question(db.session, event, question)
    audited("question.delete", ("question", question_id), f"event {event.id}")
    db.session.commit()
    flash("Question removed, with its answers.", "success")
    return redirect(url_for("questions.index", event_id=event_id), code=303)


@bp.get("/<int:event_id>/venue-list.csv")
@not_for_viewers
def venue_list(event_id: int):
    event = event_or_404(event_id)
    body = venue_csv(needs_counts(db.session, event).venue)
    audited("export.download", ("event", event.id), "venue-list.csv")
    db.session.commit()
    headers = {"Content-Disposition": f"attachment; filename=venue-list-{event.id}.csv", "Cache-Control": "no-store"}
    return Response(body, mimetype="text/csv", headers=headers)
