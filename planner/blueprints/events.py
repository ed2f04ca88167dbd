"""Events: create, show, delete a draft, send the invitations, invite replacements, and follow the mail."""

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
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..forms import (
    DEADLINE_FORMAT,
    ActionForm,
    AddPersonForm,
    EventForm,
    PersonActionForm,
)
from ..mailer import deliver_after_commit, deliver_now, mail_settings
from ..models import Event, EventKind, EventStatus, utcnow
from ..outbox import resend
from ..services import backfill
from ..services.events import (
    KIND_DEFAULTS,
    EventDraft,
    EventError,
    create_event,
    delete_draft,
    draft_for,
    with_default_deadline,
)
from ..services.invites import InviteError, send_invites
from ..services.locking import once_more_when_stale
from ..services.ownership import sharing, visible_events
from ..services.planning import MODE_SENTENCES
from ..text import plural
from .event_page import event_page
from .views import audited, committed_or_shown, event_or_404, mail_or_404, organisers_only, refusal_goes_to

bp = Blueprint("events", __name__, url_prefix="/events")
organisers_only(bp)


@bp.get("/")
def index():
    events = db.session.scalars(select(Event).where(visible_events(current_user)).order_by(Event.starts_at.desc())).all()
    return render_template("events/index.html", events=events)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = EventForm()
    if request.method == "GET":
        kind = request.args.get("kind", EventKind.LUNCH.value)
        if kind not in {k.value for k in EventKind}:
            kind = EventKind.LUNCH.value
        _fill(form, draft_for(EventKind(kind), utcnow(), current_app.config["DEFAULT_TIMEZONE"]))
    elif form.validate_on_submit():
        def create() -> Event:
            draft = with_default_deadline(form.to_draft(), utcnow(), form.shown_default())
            return create_event(db.session, current_user.id, draft, current_app.config["REPLY_DOMAIN"])

        event = committed_or_shown(form, create, lambda event: audited("event.create", ("event", event.id), event.title))
        if event is not None:
            flash("Event created. Next: propose who to invite.", "success")
            return redirect(url_for("events.detail", event_id=event.id))
    status = 400 if request.method == "POST" else 200
    return render_template("events/new.html", form=form, kinds=_kind_defaults()), status


def _kind_defaults() -> dict:
    """Each kind's defaults as the form's script reads them."""
    return {
        kind.value: {
            "title": defaults.title,
            "start": defaults.start.strftime("%H:%M"),
            "end": defaults.end.strftime("%H:%M"),
            "capacity": defaults.capacity,
            "deadline_days": defaults.deadline_days,
        }
        for kind, defaults in KIND_DEFAULTS.items()
    }


def _fill(form: EventForm, draft: EventDraft) -> None:
    form.kind.data = draft.kind.value
    form.title.data = draft.title
    form.day.data = draft.day
    form.start.data = draft.start
    form.end.data = draft.end
    form.timezone.data = draft.timezone
    form.capacity.data = draft.capacity
    form.reminder_days.data = draft.reminder_days
    form.rsvp_deadline.data = draft.rsvp_deadline
    form.shown_deadline.data = draft.rsvp_deadline.strftime(DEADLINE_FORMAT) if draft.rsvp_deadline else ""


@bp.get("/<int:event_id>")
def detail(event_id: int):
    event = event_or_404(event_id)
    return render_template(
        "events/detail.html",
        event=event,
        page=event_page(db.session, event, current_user),
        sharing=sharing(db.session, event, current_user),
        action=ActionForm(),
        person_action=PersonActionForm(),
        add_form=AddPersonForm(),
        modes=MODE_SENTENCES,
    )


@bp.get("/<int:event_id>/delete")
@refusal_goes_to("events.detail")
def delete(event_id: int):
    event = event_or_404(event_id)
    if event.status != EventStatus.DRAFT:
        raise EventError("Only a draft can be deleted; cancel a sent event instead.")
    return render_template("events/delete.html", event=event, action=ActionForm())


@bp.post("/<int:event_id>/delete")
@refusal_goes_to("events.detail")
def confirm_delete(event_id: int):
    event = event_or_404(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    title = event.title
    delete_draft(db.session, event)
    audited("event.delete", ("event", event_id), title)
    db.session.commit()
    flash(f"Draft {title!r} deleted.", "success")
    return redirect(url_for("events.index"))


@bp.get("/<int:event_id>/send")
@refusal_goes_to("events.detail")
def send_page(event_id: int):
    event = event_or_404(event_id)
    if event.status != EventStatus.DRAFT:
        raise InviteError("These invitations have already been sent.")
    if not event.proposals:
        raise InviteError("Propose or add invitees before sending.")
    return render_template("events/send.html", event=event, action=ActionForm())


@bp.post("/<int:event_id>/send")
@refusal_goes_to("events.detail")
def send(event_id: int):
    event = event_or_404(event_id)
    queued = send_invites(db.session, event, mail_settings())
    audited("event.send", ("event", event.id), plural(len(queued), "invitation"))
    db.session.commit()
    flash(f"{plural(len(queued), 'invitation')} queued.", "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/invitations/<int:invitation_id>/replacement")
@refusal_goes_to("events.detail")
def replace_declined(event_id: int, invitation_id: int):
    return _backfill(event_id, invitation_id)


@bp.post("/<int:event_id>/backfill")
@refusal_goes_to("events.detail")
def backfill_all(event_id: int):
    return _backfill(event_id, None)


def _backfill(event_id: int, invitation_id: int | None):
    """Invite a replacement for one decline (or for every open seat), commit, then send their mail."""
    event = event_or_404(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    lookback_days = current_app.config["LOOKBACK_DAYS"]

    def invite_and_commit() -> list[backfill.Replacement]:
        args = (db.session, event, mail_settings(), utcnow())
        if invitation_id is None:
            made = backfill.backfill(*args, lookback_days=lookback_days)
        else:
            made = [backfill.replace_declined(*args, invitation_id=invitation_id, lookback_days=lookback_days)]
        if invitation_id is None:
            audited("invitation.backfill", ("event", event.id), plural(len(made), "replacement"))
        else:
            audited("invitation.replace", ("invitation", invitation_id), f"by person {made[0].newcomer.id}")
        db.session.commit()
        return made

    made = once_more_when_stale(db.session, invite_and_commit)
    names = "; ".join(f"{item.newcomer.name} in place of {item.declined.person.name}" for item in made)
    flash(f"Invited {names}.", "success")
    deliver_after_commit(event.id)
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/mail/<int:mail_id>/resend")
def resend_mail(event_id: int, mail_id: int):
    mail = mail_or_404(event_id, mail_id)
    resend(db.session, mail)
    audited("mail.resend", ("mail", mail.id))
    db.session.commit()
    deliver_now(event_id)
    return redirect(url_for("events.detail", event_id=event_id))


@bp.post("/<int:event_id>/mail/deliver")
def deliver_queued(event_id: int):
    deliver_now(event_or_404(event_id).id)
    return redirect(url_for("events.detail", event_id=event_id))
