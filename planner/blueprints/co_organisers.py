"""Co-organisers: the owner of an event or a series (or an admin) adds and removes the organisers who share it."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from ..extensions import db
from ..forms import ActionForm
from ..models import Event, Series
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
    if kind == "event":
        return redirect(url_for("events.detail", event_id=thing.id))
    return redirect(url_for("series.show", series_id=thing.id))


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
