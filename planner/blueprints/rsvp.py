"""RSVP pages: no login, a GET shows, only a POST answers (mail scanners open links)."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..config import sends_at_once
from ..errors import PlannerError
from ..extensions import csrf, db
from ..forms import ActionForm, NeedsForm, SubmittedAnswer, answer_csrf_token, submitted_answer
from ..mailer import deliver_event_mail, mail_settings
from ..models import Answer, utcnow
from ..services import audit
from ..services.availability import opt_out
from ..services.capacity import waitlist_position
from ..services.events import is_open_for_answers
from ..services.locking import once_more_when_stale, reads_only
from ..services.needs import asks_needs, clear_needs, needs_of, save_needs
from ..services.questions import questions_with_answers, read_answers, save_answers
from ..services.rsvp import (
    AnswerError,
    AnswersClosed,
    Invited,
    Recorded,
    Snapshot,
    closed_on,
    find_invitation,
    find_invited,
    is_late,
    lock_answering,
    record_link_answer,
)
from ..services.seating import your_table
from ..tokens import TokenError, hash_token

bp = Blueprint("rsvp", __name__, url_prefix="/rsvp")

#: pages reached through a personal link: never cached, never indexed
PRIVATE_PAGE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}

#: what the page says after an answer (the redirect's ?answered=), without a session to carry a flash message
ANSWERED = {
    "saved": ("success", "Thank you, your answer is saved. You can change it until the deadline."),
    "waiting": ("info", "Thank you. The event is full, so you are on the waiting list; you get a mail when a seat is free."),
}


def _found(find, token: str):
    """What find reads for the token's invitation; a 404 when the token is unknown or malformed."""
    try:
        return find(db.session, token)
    except TokenError:
        abort(404)


@bp.get("/<token>")
def show(token: str):
    reads_only(db.session)  # the busiest page of the app: on PostgreSQL, no transaction to begin and roll back
    invited = _found(find_invited, token)
    return _page(invited, _remembered_needs(invited), notice=ANSWERED.get(request.args.get("answered")))


def _remembered_needs(invited: Invited, submitted: NeedsForm | None = None) -> NeedsForm | None:
    """The needs form an RSVP page shows: the one just submitted, else the person's remembered needs; None when the
    event asks no needs."""
    if submitted is not None or not asks_needs(invited.invitation.event):
        return submitted
    return _needs_form(invited.needs)


def _needs_form(needs) -> NeedsForm:
    """The needs form filled with what the person told us before."""
    return NeedsForm(meta={"csrf": False}, data={"diets": list(needs.diets), "diet_note": needs.diet_note, "access_note": needs.access_note})


def _questions(invitation, has_questions: bool) -> list:
    """The event's questions with this invitation's answers; no statement when the event asks none."""
    return questions_with_answers(db.session, invitation) if has_questions else []


def _page(invited: Invited, needs_form: NeedsForm | None, status: int = 200, given: dict | None = None,
          notice: tuple[str, str] | None = None):
    """Render the RSVP page; needs_form is shown on lunch and drinks pages while answers are open, given holds the
    question answers just submitted (shown again after a refusal), notice the (category, message) of a saved answer."""
    invitation = invited.invitation
    event = invitation.event
    is_withdrawn = invitation.cancelled_at is not None
    is_open = not is_withdrawn and is_open_for_answers(event, utcnow())
    questions = [] if is_withdrawn else _questions(invitation, invited.has_questions)
    if given is not None and is_open:
        questions = [(question, given.get(question.id, [])) for question, _ in questions]
    response = render_template(
        "rsvp/show.html",
        invitation=invitation,
        event=event,
        person_name=invited.person_name,
        organiser_name=invited.organiser_name,
        # the answer form is written out in the template: only its CSRF token, bound to the invitation, is needed here
        answer_token=answer_csrf_token(invitation.token_hash),
        needs_form=needs_form,
        questions=questions,
        is_withdrawn=is_withdrawn,
        is_open=is_open,
        notice=notice,
        closed_on=closed_on(event) if is_late(event, utcnow()) else None,
        seat=your_table(db.session, invitation) if invited.has_plan else None,
        waiting=waitlist_position(db.session, invitation),
    )
    return response, status, PRIVATE_PAGE


def _refused(token: str, message: str, needs_form: NeedsForm | None, status: int, given: dict | None = None):
    """Roll back what the answer began (its lock too), then show the RSVP page again, read afresh with all it shows,
    with the reason the answer was refused."""
    db.session.rollback()
    flash(message, "error")
    invited = _found(find_invited, token)
    return _page(invited, _remembered_needs(invited, needs_form), status, given)


@bp.post("/<token>")
@csrf.exempt  # the answer form checks its own token, bound to the invitation (forms.submitted_answer)
def answer(token: str):
    try:
        given = submitted_answer(request.form, hash_token(token))
    except TokenError:
        abort(404)
    if not given.is_genuine:
        _found(find_invitation, token)  # an unknown link stays a 404, whatever its form sent
        abort(400)
    return once_more_when_stale(db.session, lambda: _take(token, given))


def _take(token: str, given: SubmittedAnswer):
    """Lock the event, check the answer against the invitation as stored now, record and commit it; the response (a
    refusal rolls back, which frees the lock, before the page is read again)."""
    answering = _found(lock_answering, token)
    invitation = answering.invitation
    # the needs form (its fields inside the answer form) is built only when the page showed it: an answer alone skips it
    needs_form = NeedsForm(meta={"csrf": False}) if "needs_shown" in request.form and asks_needs(invitation.event) else None
    if invitation.cancelled_at is not None:
        return _refused(token, "This invitation was withdrawn: there is nothing to answer.", needs_form, 409)
    if is_late(invitation.event, utcnow()):
        return _refused(token, str(AnswersClosed(invitation.event)), None, 409)
    questions = [question for question, _ in _questions(invitation, answering.has_questions)]
    answers_given = {question.id: request.form.getlist(f"q{question.id}") for question in questions}
    if given.problem is not None:
        return _refused(token, given.problem, needs_form, 400, answers_given)
    if needs_form is not None and not needs_form.validate():
        return _refused(token, "Your needs could not be saved: " + " ".join(_errors(needs_form)), needs_form, 400,
                        answers_given)
    try:
        answers = read_answers(questions, answers_given, saying_yes=given.answer == "yes")
        needs = needs_form.to_needs() if needs_form is not None else None
        recorded = _save(invitation, given, answers, needs)
    except PlannerError as error:
        return _refused(token, str(error), needs_form, 409 if isinstance(error, AnswerError) else 400, answers_given)
    # a seat given up goes to the waiting list, or as an offer: their mail goes now when requests send what they queue
    if recorded.passes_seat_on and sends_at_once(current_app.config):
        deliver_event_mail(invitation.event_id)
    answered = "waiting" if recorded.invitation.answer == Answer.WAITLIST else "saved"
    return redirect(url_for("rsvp.show", token=token, answered=answered), code=303)


def _errors(form) -> list[str]:
    return [error for errors in form.errors.values() for error in errors]


def _save(locked: Snapshot, given: SubmittedAnswer, answers: dict, needs) -> Recorded:
    """Record and commit the answer, the question answers and the needs of an invitation read with its event locked;
    return what was recorded."""
    recorded = record_link_answer(db.session, locked, given.answer, utcnow(), given.comment, settings=mail_settings())
    save_answers(db.session, recorded.invitation, answers)
    if needs is not None:
        save_needs(db.session, locked.person_id, needs)
    db.session.commit()
    return recorded


@bp.get("/<token>/needs")
def needs_page(token: str):
    invitation = _found(find_invitation, token)
    return _needs_page(invitation, _needs_form(needs_of(db.session, invitation.person_id)))


def _needs_page(invitation, form, status: int = 200):
    page = render_template("rsvp/needs.html", invitation=invitation, event=invitation.event, needs_form=form,
                           has_needs=not needs_of(db.session, invitation.person_id).is_empty)
    return page, status, PRIVATE_PAGE


@bp.post("/<token>/needs")
def save_needs_page(token: str):
    invitation = _found(find_invitation, token)
    form = NeedsForm()
    if request.form.get("action") == "clear":
        if not ActionForm().validate_on_submit():
            abort(400)
        clear_needs(db.session, invitation.person_id)
        db.session.commit()
        flash("Your dietary and access needs are forgotten.", "success")
        return redirect(url_for("rsvp.needs_page", token=token), code=303)
    if not form.validate_on_submit():
        flash("Your needs could not be saved: " + " ".join(_errors(form)), "error")
        return _needs_page(invitation, form, 400)
    try:
        save_needs(db.session, invitation.person_id, form.to_needs())
    except PlannerError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _needs_page(invitation, form, 400)
    db.session.commit()
    flash("Your dietary and access needs are saved for every event.", "success")
    return redirect(url_for("rsvp.needs_page", token=token), code=303)


@bp.get("/<token>/opt-out")
def opt_out_page(token: str):
    invitation = _found(find_invitation, token)
    page = render_template("rsvp/opt_out.html", invitation=invitation, person=invitation.person, form=ActionForm())
    return page, 200, PRIVATE_PAGE


@bp.post("/<token>/opt-out")
def opt_out_confirm(token: str):
    invitation = _found(find_invitation, token)
    if not ActionForm().validate_on_submit():
        abort(400)
    opt_out(db.session, invitation.person)
    audit.record(db.session, "person.opt_out", actor=audit.INVITEE, subject=("person", invitation.person_id))
    db.session.commit()
    flash("You will not be invited to new events. Your answer to this one stays as it is.", "success")
    return redirect(url_for("rsvp.opt_out_page", token=token), code=303)
