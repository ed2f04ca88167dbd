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


@bp.post("/events/<int:event_id>/co-organisers")
@refusal_goes_to("events.detail")
def add_to_event(event_id: int):
    event = event_or_404(event_id)
    _shared(event)
    added = ownership.add_co_organiser(db.session, event, _organiser_id())
    audited("event.co_organiser_added", ("event", event.id), f"{added.email} co-organises {event.title}")
    db.session.commit()
    flash(f"{added.name} now co-organises this event.", "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/events/<int:event_id>/co-organisers/<int:organiser_id>/remove")
@refusal_goes_to("events.detail")
def remove_from_event(event_id: int, organiser_id: int):
    event = event_or_404(event_id)
    _shared(event)
    removed = ownership.remove_co_organiser(db.session, event, organiser_id)
    audited("event.co_organiser_removed", ("event", event.id), f"{removed.email} no longer co-organises {event.title}")
    db.session.commit()
    flash(f"{removed.name} no longer co-organises this event.", "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/series/<int:series_id>/co-organisers")
@refusal_goes_to("series.show", key="series_id")
def add_to_series(series_id: int):
    series = series_or_404(series_id)
    _shared(series)
    added = ownership.add_co_organiser(db.session, series, _organiser_id())
    audited("series.co_organiser_added", ("series", series.id), f"{added.email} co-organises {series.title}")
    db.session.commit()
    flash(f"{added.name} now co-organises this series and its rounds.", "success")
    return redirect(url_for("series.show", series_id=series.id))


@bp.post("/series/<int:series_id>/co-organisers/<int:organiser_id>/remove")
@refusal_goes_to("series.show", key="series_id")
def remove_from_series(series_id: int, organiser_id: int):
    series = series_or_404(series_id)
    _shared(series)
    removed = ownership.remove_co_organiser(db.session, series, organiser_id)
    audited("series.co_organiser_removed", ("series", series.id), f"{removed.email} no longer co-organises {series.title}")
    db.session.commit()
    flash(f"{removed.name} no longer co-organises this series.", "success")
    return redirect(url_for("series.show", series_id=series.id))
