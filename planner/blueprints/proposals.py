"""The proposal of a draft event: propose invitees, add, remove, replace, mark must, allow again."""

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from sqlalchemy import select

from ..extensions import db
from ..forms import AddPersonForm, PersonActionForm, PlanningModeForm
from ..models import Event, Person, PlanningMode, utcnow
from ..services import planning
from ..services.planning import PlanningError
from ..text import plural
from .views import audited, event_or_404, organisers_only, refusal_goes_to

bp = Blueprint("proposals", __name__, url_prefix="/events")
organisers_only(bp)

MAX_LOOKBACK_DAYS = 3650


def _lookback_days() -> int:
    """The look-back window from the propose form, or the configured default; PlanningError when bad."""
    text = request.form.get("lookback_days", "").strip()
    if not text:
        return current_app.config["LOOKBACK_DAYS"]
    if not text.isdigit() or not 1 <= int(text) <= MAX_LOOKBACK_DAYS:
        raise PlanningError(f"The look-back window must be a whole number of days from 1 to {MAX_LOOKBACK_DAYS}.")
    return int(text)


def _back(event: Event):
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/propose")
@refusal_goes_to("events.detail")
def propose_invitees(event_id: int):
    event = event_or_404(event_id)
    seed_text = request.form.get("seed", "")
    seed = int(seed_text) if seed_text.isdigit() else event.id
    lookback_days = _lookback_days()
    people = plural(planning.propose(db.session, event, utcnow(), lookback_days=lookback_days, seed=seed), "person", "people")
    audited("proposal.propose", ("event", event.id), f"{people}, look-back {lookback_days}, seed {seed}")
    return _saved(event, f"Proposed {people} (look-back {plural(lookback_days, 'day')}).")


@bp.post("/<int:event_id>/planning-mode")
@refusal_goes_to("events.detail")
def planning_mode(event_id: int):
    event = event_or_404(event_id)
    form = PlanningModeForm()
    if not form.validate_on_submit():
        abort(400)
    mode = PlanningMode(form.mode.data)
    planning.set_mode(db.session, event, mode)
    audited("event.planning_mode", ("event", event.id), mode.value)
    return _saved(event, f"{planning.MODE_SENTENCES[mode]} Propose again to apply it.")


def _saved(event: Event, message: str):
    """Commit a proposal setting, flash what was done, and go back to the event."""
    db.session.commit()
    flash(message, "success")
    return _back(event)


def _changed(event: Event, message: str, balance: planning.Balance | None = None):
    """Commit a proposal change, flash it with the deviation it leads to (measured now unless given), and go back to the event."""
    db.session.commit()
    if balance is None:
        balance = planning.proposal_balance(db.session, event)
    flash(f"{message} {balance.summary()}", "success")
    return _back(event)


def _person_id() -> int:
    """The person a proposal button is about; 400 when the form is not ours."""
    form = PersonActionForm()
    if not form.validate_on_submit() or not form.person_id.data.isdigit():
        abort(400)
    return int(form.person_id.data)


@bp.post("/<int:event_id>/add")
@refusal_goes_to("events.detail")
def add(event_id: int):
    event = event_or_404(event_id)
    form = AddPersonForm()
    if not form.validate_on_submit():
        raise PlanningError("Give a valid email address to add.")
    person = db.session.scalar(select(Person).where(Person.email == form.email.data.strip().lower()))
    if person is None:
        raise PlanningError(f"Nobody with the email {form.email.data} is in the directory.")
    is_must = request.form.get("must") == "1"
    planning.add_person(db.session, event, person, utcnow(), lookback_days=current_app.config["LOOKBACK_DAYS"], is_must=is_must)
    audited("proposal.add", ("event", event.id), f"person {person.id}{' (must)' if is_must else ''}")
    return _changed(event, f"Added {person.name}{' (must)' if is_must else ''}.")


@bp.post("/<int:event_id>/remove")
@refusal_goes_to("events.detail")
def remove(event_id: int):
    event = event_or_404(event_id)
    person_id = _person_id()
    exclude = request.form.get("exclude") == "1"
    person = planning.remove_person(db.session, event, person_id, exclude=exclude)
    audited("proposal.exclude" if exclude else "proposal.remove", ("event", event.id), f"person {person_id}")
    return _changed(event, f"{'Excluded' if exclude else 'Removed'} {person.name}.")


@bp.post("/<int:event_id>/replace")
@refusal_goes_to("events.detail")
def replace(event_id: int):
    event = event_or_404(event_id)
    person_id = _person_id()
    gone = db.session.get(Person, person_id)
    replaced = planning.replace_person(db.session, event, person_id, utcnow(), lookback_days=current_app.config["LOOKBACK_DAYS"])
    audited("proposal.replace", ("event", event.id), f"person {person_id} by person {replaced.entry.person_id}")
    return _changed(event, f"Replaced {gone.name} with {replaced.entry.person.name}.", replaced.balance)


@bp.post("/<int:event_id>/must")
@refusal_goes_to("events.detail")
def must(event_id: int):
    event = event_or_404(event_id)
    person_id = _person_id()
    is_must = request.form.get("is_must") == "1"
    entry = planning.set_must(db.session, event, person_id, is_must)
    audited("proposal.must", ("event", event.id), f"person {person_id}: {'must' if is_must else 'not a must'}")
    return _saved(event, f"{entry.person.name} {'must attend' if is_must else 'is no longer a must'}.")


@bp.post("/<int:event_id>/allow")
@refusal_goes_to("events.detail")
def allow(event_id: int):
    event = event_or_404(event_id)
    person_id = _person_id()
    planning.allow_again(db.session, event, person_id)
    audited("proposal.allow", ("event", event.id), f"person {person_id}")
    return _saved(event, "New proposals may choose this person again.")
