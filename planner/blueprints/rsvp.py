"""RSVP pages: no login, a GET shows, only a POST answers (mail scanners open links)."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)

from ..config import sends_at_once
from ..errors import PlannerError
from ..extensions import db
from ..forms import ActionForm, AnswerForm
from ..mailer import deliver_event_mail, mail_settings
from ..models import Answer, utcnow
from ..services.availability import opt_out
from ..services.capacity import waitlist_position
from ..services.events import is_open_for_answers
from ..services.locking import once_more_when_stale
from ..services.rsvp import find_invitation, record_answer
from ..services.seating import your_table
from ..tokens import TokenError

bp = Blueprint("rsvp", __name__, url_prefix="/rsvp")

#: pages reached through a personal link: never cached, never indexed
PRIVATE_PAGE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _invitation(token: str):
    try:
        return find_invitation(db.session, token)
    except TokenError:
        abort(404)


@bp.get("/<token>")
def show(token: str):
    invitation = _invitation(token)
    return _page(invitation, AnswerForm())


def _page(invitation, form, status: int = 200):
    response = render_template(
        "rsvp/show.html",
        invitation=invitation,
        event=invitation.event,
        form=form,
        is_withdrawn=invitation.cancelled_at is not None,
        is_open=invitation.cancelled_at is None and is_open_for_answers(invitation.event, utcnow()),
        seat=your_table(db.session, invitation),
        waiting=waitlist_position(db.session, invitation),
    )
    return response, status, PRIVATE_PAGE


@bp.post("/<token>")
def answer(token: str):
    invitation = _invitation(token)
    form = AnswerForm()
    if invitation.cancelled_at is not None:
        flash("This invitation was withdrawn: there is nothing to answer.", "error")
        return _page(invitation, form, 409)
    if not form.validate_on_submit():
        flash("Choose yes, no or maybe.", "error")
        return _page(invitation, form, 400)
    frees_seat = invitation.answer == Answer.YES and form.answer.data != "yes"
    try:
        invitation = once_more_when_stale(db.session, lambda: _save(token, form))
    except PlannerError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(_invitation(token), form, 409)
    if frees_seat and sends_at_once(current_app.config):
        deliver_event_mail(invitation.event_id)
    if invitation.answer == Answer.WAITLIST:
        flash("Thank you. The event is full, so you are on the waiting list; you get a mail when a seat is free.", "info")
    else:
        flash("Thank you, your answer is saved. You can change it until the deadline.", "success")
    return redirect(url_for("rsvp.show", token=token), code=303)


def _save(token: str, form: AnswerForm):
    """Record and commit the answer, reading the invitation afresh (so a retry starts clean)."""
    invitation = _invitation(token)
    record_answer(db.session, invitation, form.answer.data, utcnow(), form.comment.data, settings=mail_settings())
    db.session.commit()
    return invitation


@bp.get("/<token>/opt-out")
def opt_out_page(token: str):
    invitation = _invitation(token)
    page = render_template("rsvp/opt_out.html", invitation=invitation, person=invitation.person, form=ActionForm())
    return page, 200, PRIVATE_PAGE


@bp.post("/<token>/opt-out")
def opt_out_confirm(token: str):
    invitation = _invitation(token)
    if not ActionForm().validate_on_submit():
        abort(400)
    opt_out(db.session, invitation.person)
    db.session.commit()
    flash("You will not be invited to new events. Your answer to this one stays as it is.", "success")
    return redirect(url_for("rsvp.opt_out_page", token=token), code=303)
