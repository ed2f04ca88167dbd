"""Co-organisers: the owner of an event or a series (or an admin) adds and removes the organisers who share it, or makes one
of them the owner."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..forms import ActionForm
from ..models import Event, Series, utcnow
from ..services import ownership
from .views import audited, event_or_404, organisers_only, refusal_goes_to, series_or_404

bp = Blueprint("co_organisers", __name__)
organisers_only(bp)


def _shared(thing: Event | Series) -> None:
    """Refuse (403) anyone but the owner or an admin, and a form that is not ours (400)."""
    if not ownership.may_share(current_user, thing.organiser_id):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)


def _organiser_id() -> int:
    text = request.form.get("organiser_id", "")
    return int(text) if text.isdigit() else 0


def _changed(thing: Event | Series, organiser_id: int, *, adding: bool, done: str):
    """Add or remove a co-organiser of an event or a series (owner or admin only), record it and go back to its page."""
    _shared(thing)
    kind = "event" if isinstance(thing, Event) else "series"
    change = ownership.add_co_organiser if adding else ownership.remove_co_organiser
    organiser = change(db.session, thing, organiser_id)
    verb = "co-organises" if adding else "no longer co-organises"
    audited(f"{kind}.co_organiser_{'added' if adding else 'removed'}", (kind, thing.id), f"{organiser.email} {verb} {thing.title}")
    db.session.commit()
    flash(f"{organiser.name} {done}", "success")
    return redirect(_page_url(thing))


def _page_url(thing: Event | Series) -> str:
    if isinstance(thing, Event):
        return url_for("events.detail", event_id=thing.id)
    return url_for("series.show", series_id=thing.id)


@bp.post("/events/<int:event_id>/co-organisers")
@refusal_goes_to("events.detail")
def add_to_event(event_id: int):
    return _changed(event_or_404(event_id), _organiser_id(), adding=True, done="now co-organises this event.")


@bp.post("/events/<int:event_id>/co-organisers/<int:organiser_id>/remove")
@refusal_goes_to("events.detail")
def remove_from_event(event_id: int, organiser_id: int):
    return _changed(event_or_404(event_id), organiser_id, adding=False, done="no longer co-organises this event.")


@bp.post("/series/<int:series_id>/co-organisers")
@refusal_goes_to("series.show", key="series_id")
def add_to_series(series_id: int):
    return _changed(series_or_404(series_id), _organiser_id(), adding=True,
                    done="now co-organises this series and its rounds.")


@bp.post("/series/<int:series_id>/co-organisers/<int:organiser_id>/remove")
@refusal_goes_to("series.show", key="series_id")
def remove_from_series(series_id: int, organiser_id: int):
    return _changed(series_or_404(series_id), organiser_id, adding=False, done="no longer co-organises this series.")


def _handover_page(thing: Event | Series, organiser_id: int):
    """Show what making that co-organiser the owner hands over, with the button that does it."""
    handover = ownership.planned_handover(db.session, thing, organiser_id, current_user, utcnow())
    return render_template("co_organisers/handover.html", thing=thing, handover=handover, action=ActionForm(),
                           back_url=_page_url(thing))


def _handed_over(thing: Event | Series, organiser_id: int):
    """Make that co-organiser the owner (owner or admin only; viewers 403), record it and go back to the page."""
    if not current_user.can_change:
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    handover = ownership.hand_over(db.session, thing, organiser_id, current_user, utcnow())
    previous = handover.previous
    kind = "event" if isinstance(thing, Event) else "series"
    rounds = f"; rounds to come: {', '.join(str(event.id) for event in handover.rounds)}" if handover.rounds else ""
    audited("event.handed_over" if kind == "event" else "series.handed_over", (kind, thing.id),
            f"{thing.title} from {previous.email} to {handover.owner.email}{rounds}")
    db.session.commit()
    flash(f"{handover.owner.name} now owns {handover.what}; {previous.name} stays on as a co-organiser.", "success")
    return redirect(_page_url(thing))


@bp.get("/events/<int:event_id>/co-organisers/<int:organiser_id>/handover")
@refusal_goes_to("events.detail")
def event_handover(event_id: int, organiser_id: int):
    return _handover_page(event_or_404(event_id), organiser_id)


@bp.post("/events/<int:event_id>/co-organisers/<int:organiser_id>/handover")
@refusal_goes_to("events.detail")
def confirm_event_handover(event_id: int, organiser_id: int):
    return _handed_over(event_or_404(event_id), organiser_id)


@bp.get("/series/<int:series_id>/co-organisers/<int:organiser_id>/handover")
@refusal_goes_to("series.show", key="series_id")
def series_handover(series_id: int, organiser_id: int):
    return _handover_page(series_or_404(series_id), organiser_id)


@bp.post("/series/<int:series_id>/co-organisers/<int:organiser_id>/handover")
@refusal_goes_to("series.show", key="series_id")
def confirm_series_handover(series_id: int, organiser_id: int):
    return _handed_over(series_or_404(series_id), organiser_id)
