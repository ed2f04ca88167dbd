"""Events: create, propose invitees, adjust, send, and follow the answers."""

from collections import Counter
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..forms import ActionForm, AddPersonForm, EventForm, PersonActionForm
from ..mailer import counted, deliver_after_commit, deliver_now, mail_settings
from ..models import Event, EventKind, MailState, OutgoingMail, Person, utcnow
from ..outbox import pending_errors, resend
from ..services import backfill, planning
from ..services.capacity import SeatCount, seat_count
from ..services.events import EventDraft, EventError, create_event, draft_for
from ..services.invites import InviteError, send_invites
from ..services.locking import once_more_when_stale
from ..services.planning import PlanningError
from .proposal_view import proposal_page

bp = Blueprint("events", __name__, url_prefix="/events")

MAX_LOOKBACK_DAYS = 3650


@bp.before_request
@login_required
def require_login():
    """Every event page is for organisers only."""


@bp.app_template_global()
def seats_of(event: Event) -> SeatCount:
    """An event's seats taken and invitations waiting, for its page."""
    return seat_count(db.session, event)


def _event(event_id: int) -> Event:
    return db.get_or_404(Event, event_id)


@bp.get("/")
def index():
    events = db.session.scalars(select(Event).order_by(Event.starts_at.desc())).all()
    return render_template("events/index.html", events=events)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = EventForm()
    if request.method == "GET":
        kind = request.args.get("kind", EventKind.LUNCH.value)
        if kind not in {k.value for k in EventKind}:
            kind = EventKind.LUNCH.value
        _fill(form, draft_for(EventKind(kind), date.today(), current_app.config.get("DEFAULT_TIMEZONE", "Europe/Berlin")))
    elif form.validate_on_submit():
        draft = form.to_draft()
        try:
            event = create_event(db.session, current_user.id, draft, current_app.config["REPLY_DOMAIN"])
        except EventError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash("Event created. Next: propose who to invite.", "success")
            return redirect(url_for("events.detail", event_id=event.id))
    status = 400 if request.method == "POST" else 200
    return render_template("events/new.html", form=form), status


def _fill(form: EventForm, draft: EventDraft) -> None:
    form.kind.data = draft.kind.value
    form.title.data = draft.title
    form.day.data = draft.day
    form.start.data = draft.start
    form.end.data = draft.end
    form.timezone.data = draft.timezone
    form.capacity.data = draft.capacity
    form.rsvp_deadline.data = draft.rsvp_deadline


@bp.get("/<int:event_id>")
def detail(event_id: int):
    event = _event(event_id)
    answers = Counter(invitation.answer for invitation in event.invitations)
    return render_template(
        "events/detail.html",
        event=event,
        proposal=proposal_page(db.session, event, current_user),
        answers=answers,
        mail_problems=pending_errors(db.session, event.id),
        queued=db.session.scalar(
            select(db.func.count(OutgoingMail.id)).where(OutgoingMail.event_id == event.id, OutgoingMail.state == MailState.QUEUED)
        ),
        action=ActionForm(),
        person_action=PersonActionForm(),
        add_form=AddPersonForm(),
    )


def _lookback_days() -> int:
    """The look-back window from the propose form, or the configured default; PlanningError when bad."""
    text = request.form.get("lookback_days", "").strip()
    if not text:
        return current_app.config["LOOKBACK_DAYS"]
    if not text.isdigit() or not 1 <= int(text) <= MAX_LOOKBACK_DAYS:
        raise PlanningError(f"The look-back window must be a whole number of days from 1 to {MAX_LOOKBACK_DAYS}.")
    return int(text)


@bp.post("/<int:event_id>/propose")
def propose_invitees(event_id: int):
    event = _event(event_id)
    seed_text = request.form.get("seed", "")
    seed = int(seed_text) if seed_text.isdigit() else event.id
    try:
        lookback_days = _lookback_days()
        entries = planning.propose(db.session, event, utcnow(), lookback_days=lookback_days, seed=seed)
    except (PlanningError, ValueError) as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(f"Proposed {len(entries)} people (look-back {lookback_days} days).", "success")
    return redirect(url_for("events.detail", event_id=event.id))


def _changed(event: Event, message: str):
    """Commit a proposal change, flash it with the deviation it leads to, and go back to the event."""
    db.session.commit()
    balance = planning.proposal_balance(db.session, event, utcnow(), lookback_days=current_app.config["LOOKBACK_DAYS"])
    flash(f"{message} {balance.summary()}", "success")
    return redirect(url_for("events.detail", event_id=event.id))


def _refused(event: Event, error: Exception):
    db.session.rollback()
    flash(str(error), "error")
    return redirect(url_for("events.detail", event_id=event.id))


def _person_id() -> int:
    """The person a proposal button is about; 400 when the form is not ours."""
    form = PersonActionForm()
    if not form.validate_on_submit() or not form.person_id.data.isdigit():
        abort(400)
    return int(form.person_id.data)


@bp.post("/<int:event_id>/add")
def add(event_id: int):
    event = _event(event_id)
    form = AddPersonForm()
    if not form.validate_on_submit():
        flash("Give a valid email address to add.", "error")
        return redirect(url_for("events.detail", event_id=event.id))
    person = db.session.scalar(select(Person).where(Person.email == form.email.data.strip().lower()))
    if person is None:
        flash(f"Nobody with the email {form.email.data} is in the directory.", "error")
        return redirect(url_for("events.detail", event_id=event.id))
    is_must = request.form.get("must") == "1"
    try:
        planning.add_person(
            db.session, event, person, utcnow(), lookback_days=current_app.config["LOOKBACK_DAYS"], is_must=is_must
        )
    except PlanningError as error:
        return _refused(event, error)
    return _changed(event, f"Added {person.name}{' (must)' if is_must else ''}.")


@bp.post("/<int:event_id>/remove")
def remove(event_id: int):
    event = _event(event_id)
    person_id = _person_id()
    exclude = request.form.get("exclude") == "1"
    try:
        person = planning.remove_person(db.session, event, person_id, exclude=exclude)
    except PlanningError as error:
        return _refused(event, error)
    return _changed(event, f"{'Excluded' if exclude else 'Removed'} {person.name}.")


@bp.post("/<int:event_id>/replace")
def replace(event_id: int):
    event = _event(event_id)
    person_id = _person_id()
    gone = db.session.get(Person, person_id)
    try:
        entry = planning.replace_person(db.session, event, person_id, utcnow(), lookback_days=current_app.config["LOOKBACK_DAYS"])
    except (PlanningError, ValueError) as error:
        return _refused(event, error)
    return _changed(event, f"Replaced {gone.name} with {entry.person.name}.")


@bp.post("/<int:event_id>/must")
def must(event_id: int):
    event = _event(event_id)
    person_id = _person_id()
    is_must = request.form.get("is_must") == "1"
    try:
        entry = planning.set_must(db.session, event, person_id, is_must)
    except PlanningError as error:
        return _refused(event, error)
    db.session.commit()
    flash(f"{entry.person.name} {'must attend' if is_must else 'is no longer a must'}.", "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/allow")
def allow(event_id: int):
    event = _event(event_id)
    person_id = _person_id()
    try:
        planning.allow_again(db.session, event, person_id)
    except PlanningError as error:
        return _refused(event, error)
    db.session.commit()
    flash("New proposals may choose this person again.", "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/send")
def send(event_id: int):
    event = _event(event_id)
    try:
        queued = send_invites(db.session, event, mail_settings())
    except InviteError as error:
        return _refused(event, error)
    db.session.commit()
    flash(f"{counted(len(queued), 'invitation')} queued.", "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/replacement")
def replace_declined(event_id: int, invitation_id: int):
    return _backfill(event_id, invitation_id)


@bp.post("/<int:event_id>/backfill")
def backfill_all(event_id: int):
    return _backfill(event_id, None)


def _backfill(event_id: int, invitation_id: int | None):
    """Invite a replacement for one decline (or for every open seat), commit, then send their mail."""
    event = _event(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    lookback_days = current_app.config["LOOKBACK_DAYS"]

    def invite_and_commit() -> list[backfill.Replacement]:
        args = (db.session, event, mail_settings(), utcnow())
        if invitation_id is None:
            made = backfill.backfill(*args, lookback_days=lookback_days)
        else:
            made = [backfill.replace_declined(*args, invitation_id=invitation_id, lookback_days=lookback_days)]
        db.session.commit()
        return made

    try:
        made = once_more_when_stale(db.session, invite_and_commit)
    except backfill.BackfillError as error:
        return _refused(event, error)
    names = "; ".join(f"{item.newcomer.name} in place of {item.declined.person.name}" for item in made)
    flash(f"Invited {names}.", "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.app_template_global()
def replacements_of(event: Event) -> backfill.BackfillState:
    """Who replaced whom on an event, and which declines can still be replaced, for its page."""
    return backfill.backfill_state(event, utcnow())


@bp.post("/<int:event_id>/mail/<int:mail_id>/resend")
def resend_mail(event_id: int, mail_id: int):
    mail = db.get_or_404(OutgoingMail, mail_id)
    if mail.event_id != event_id:
        abort(404)
    resend(db.session, mail)
    db.session.commit()
    deliver_now(event_id)
    return redirect(url_for("events.detail", event_id=event_id))


@bp.post("/<int:event_id>/mail/deliver")
def deliver_queued(event_id: int):
    deliver_now(_event(event_id).id)
    return redirect(url_for("events.detail", event_id=event_id))
