"""The admin page: organisers and their roles, deactivation, new organisers; never without an active admin."""

from datetime import date, time, timedelta

from sqlalchemy import select

from planner.extensions import db
from planner.models import AuditEntry, Event, EventKind, Organiser, OrganiserRole, Series
from tests.helpers import PASSWORD, csrf_from


def _log_in(app, email, password=PASSWORD):
    client = app.test_client()
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.data)})
    client.csrf = csrf_from(client.get("/dashboard/").data) if response.status_code == 302 else None
    return client, response


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": client.csrf, **data}, follow_redirects=True)


def test_only_admins_open_the_admin_page_and_see_its_link(app, make_organiser):
    admin = make_organiser("admin@example.com", "Ada Admin")
    make_organiser("org@example.com", "Oli Organiser", role=OrganiserRole.ORGANISER)
    make_organiser("viewer@example.com", "Vic Viewer", role=OrganiserRole.VIEWER)
    client, _ = _log_in(app, admin.email)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/"' in page
    assert "Oli Organiser" in page and "Vic Viewer" in page and '<option value="viewer" selected>' in page
    for email in ("org@example.com", "viewer@example.com"):
        other, _ = _log_in(app, email)
        assert other.get("/admin/").status_code == 403
        assert 'href="/admin/"' not in other.get("/dashboard/").get_data(as_text=True)
    assert app.test_client().get("/admin/").status_code == 302  # to the login


def test_a_role_change_is_audited_and_takes_effect_at_once(app, make_organiser):
    admin = make_organiser("admin@example.com")
    organiser = make_organiser("org@example.com", role=OrganiserRole.ORGANISER)
    client, _ = _log_in(app, admin.email)
    theirs, _ = _log_in(app, organiser.email)
    assert theirs.get("/admin/").status_code == 403
    page = _post(client, f"/admin/organisers/{organiser.id}/role", role="admin").get_data(as_text=True)
    assert "org@example.com is now admin." in page
    assert theirs.get("/admin/").status_code == 200
    _post(client, f"/admin/organisers/{organiser.id}/role", role="viewer")
    assert theirs.post("/events/new", data={"csrf_token": theirs.csrf}).status_code == 403
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "organiser.role").order_by(AuditEntry.id)).all()
    assert [(entry.actor, entry.subject_id, entry.summary) for entry in entries] == [
        ("admin@example.com", organiser.id, "org@example.com: organiser -> admin"),
        ("admin@example.com", organiser.id, "org@example.com: admin -> viewer"),
    ]


def test_a_deactivated_organiser_is_logged_out_and_cannot_log_in_until_activated(app, make_organiser):
    admin = make_organiser("admin@example.com")
    organiser = make_organiser("org@example.com", role=OrganiserRole.ORGANISER)
    client, _ = _log_in(app, admin.email)
    theirs, _ = _log_in(app, organiser.email)
    assert theirs.get("/events/").status_code == 200
    page = _post(client, f"/admin/organisers/{organiser.id}/active", is_active="0").get_data(as_text=True)
    assert "org@example.com is deactivated and logged out." in page
    assert theirs.get("/events/").status_code == 302
    again, response = _log_in(app, organiser.email)
    assert response.status_code == 401 and "This account is deactivated" in response.get_data(as_text=True)
    changes = select(AuditEntry.action).where(AuditEntry.subject_id == organiser.id, AuditEntry.action.like("organiser.%"))
    assert db.session.scalars(changes).all() == ["organiser.deactivate"]
    _post(client, f"/admin/organisers/{organiser.id}/active", is_active="1")
    again, response = _log_in(app, organiser.email)
    assert response.status_code == 302 and again.get("/events/").status_code == 200


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app, make_organiser):
    admin = make_organiser("admin@example.com")
    other = make_organiser("second@example.com", role=OrganiserRole.ADMIN)
    client, _ = _log_in(app, admin.email)
    _post(client, f"/admin/organisers/{other.id}/active", is_active="0")
    for url, data in ((f"/admin/organisers/{admin.id}/role", {"role": "organiser"}),
                      (f"/admin/organisers/{admin.id}/active", {"is_active": "0"})):
        page = _post(client, url, **data).get_data(as_text=True)
        assert "admin@example.com is the last active admin" in page and "make another admin first" in page
    db.session.expire_all()
    assert db.session.get(Organiser, admin.id).role == OrganiserRole.ADMIN
    assert db.session.get(Organiser, admin.id).is_active
    assert client.get("/admin/").status_code == 200
    _post(client, f"/admin/organisers/{other.id}/active", is_active="1")
    page = _post(client, f"/admin/organisers/{admin.id}/role", role="organiser").get_data(as_text=True)
    assert "admin@example.com is now organiser." in page
    assert client.get("/admin/").status_code == 403


def test_an_admin_creates_an_organiser_who_logs_in_with_the_first_password(app, make_organiser):
    admin = make_organiser("admin@example.com")
    client, _ = _log_in(app, admin.email)
    page = _post(client, "/admin/organisers", email="New@Example.com", name="Nia New", password="a-first-password",
                 role="viewer").get_data(as_text=True)
    assert "new@example.com can log in now (viewer)" in page
    page = _post(client, "/admin/organisers", email="new@example.com", name="Again", password="a-first-password",
                 role="organiser").get_data(as_text=True)
    assert "already exists" in page
    assert "at least 10 characters" in _post(client, "/admin/organisers", email="x@example.com", password="short").get_data(as_text=True)
    theirs, response = _log_in(app, "new@example.com", "a-first-password")
    assert response.status_code == 302
    assert theirs.post("/series/new", data={"csrf_token": theirs.csrf}).status_code == 403
    assert db.session.scalar(select(AuditEntry.summary).where(AuditEntry.action == "organiser.create")) == "new@example.com as viewer"


def test_an_organiser_made_a_viewer_leaves_what_they_co_organise_and_is_told_what_they_still_own(app, make_organiser, make_event):
    admin = make_organiser("admin@example.com")
    owner = make_organiser("owner@example.com", role=OrganiserRole.ORGANISER)
    organiser = make_organiser("org@example.com", role=OrganiserRole.ORGANISER)
    shared, own = make_event(organiser=owner, title="Shared lunch"), make_event(organiser=organiser, title="Own lunch")
    past = make_event(organiser=organiser, title="Past lunch")  # owned too, but nothing to hand over
    past.starts_at, past.ends_at = past.starts_at - timedelta(days=60), past.ends_at - timedelta(days=60)
    series = Series(kind=EventKind.LUNCH, title="Monthly", capacity=5, start_time=time(12), end_time=time(13),
                    timezone="Europe/Berlin", rrule="FREQ=MONTHLY", starts_on=date.today(), organiser_id=owner.id)
    db.session.add(series)
    shared.co_organisers.append(organiser)
    series.co_organisers.append(organiser)
    db.session.commit()
    client, _ = _log_in(app, admin.email)
    page = _post(client, f"/admin/organisers/{organiser.id}/role", role="viewer").get_data(as_text=True)
    assert ("org@example.com is now viewer. They no longer co-organise 2 events or series. They still own 1 series or "
            "event to come: open each to hand it over to a co-organiser.") in page
    db.session.expire_all()
    assert db.session.get(Event, shared.id).co_organisers == [] and db.session.get(Series, series.id).co_organisers == []
    assert db.session.get(Event, own.id).organiser_id == organiser.id
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "organiser.role")).one()
    assert entry.summary == "org@example.com: organiser -> viewer; left 2 co-organiser places"
    page = _post(client, f"/admin/organisers/{organiser.id}/role", role="organiser").get_data(as_text=True)
    assert "org@example.com is now organiser." in page and "no longer co-organise" not in page
