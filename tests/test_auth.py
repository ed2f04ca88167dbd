"""Organiser login, logout, rate limiting and page protection."""

from datetime import timedelta

import pytest
from flask import g, has_app_context
from sqlalchemy import select

from planner.demo import load_demo
from planner.extensions import db
from planner.models import LoginFailure, Organiser
from planner.services.accounts import AccountError, create_organiser, set_password
from tests.helpers import PASSWORD, PerClientFlaskClient, csrf_from, make_app


class SessionClient(PerClientFlaskClient):
    """A test client whose every request loads the organiser from its own cookies.

    The test's app context, and so its `g`, outlives each request; Flask-Login caches the user in `g`,
    so without this a request would see whoever the previous request (of any client) had loaded.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    """The test's client, and every other client of the app, is a SessionClient."""
    app.test_client_class = SessionClient
    return app.test_client()


def session_app(database_url, tmp_path, **overrides):
    """An app built with overrides whose clients are SessionClients."""
    app = make_app(database_url, tmp_path, **overrides)
    app.test_client_class = SessionClient
    return app

PROTECTED = ["/events/", "/events/new", "/people/", "/people/import", "/mailbox/"]


@pytest.mark.parametrize("path", PROTECTED)
def test_organiser_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def post_login(client, email, password, path="/auth/login", **fields):
    token = csrf_from(client.get("/auth/login").data)
    return client.post(path, data={"email": email, "password": password, "csrf_token": token, **fields})


def test_login_and_logout(client, make_organiser):
    organiser = make_organiser()
    assert post_login(client, organiser.email.upper(), PASSWORD).status_code == 302
    page = client.get("/events/")
    assert page.status_code == 200
    response = client.post("/auth/logout", data={"csrf_token": csrf_from(page.data)})
    assert response.status_code == 302
    assert client.get("/events/").status_code == 302


def test_login_without_csrf_token_is_refused(client, make_organiser):
    organiser = make_organiser()
    response = client.post("/auth/login", data={"email": organiser.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/events/").status_code == 302


def test_wrong_password_gets_a_clear_message(client, make_organiser):
    organiser = make_organiser()
    response = post_login(client, organiser.email, "wrong password!")
    assert response.status_code == 401 and b"Wrong email or password." in response.data


def test_failed_logins_are_rate_limited_even_with_the_right_password(client, make_organiser):
    organiser = make_organiser()
    for _ in range(5):
        assert post_login(client, organiser.email, "nope nope nope").status_code == 401
    response = post_login(client, organiser.email, PASSWORD)
    assert response.status_code == 401 and b"Too many failed logins" in response.data


def test_organiser_create_command_hashes_the_password(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["organiser", "create", "New@Example.com", "--name", "New"], input="a long password\n")
    assert result.exit_code == 0, result.output
    organiser = db.session.scalar(select(Organiser).where(Organiser.email == "new@example.com"))
    assert organiser and "a long password" not in organiser.password_hash
    again = runner.invoke(args=["organiser", "create", "new@example.com"], input="a long password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(args=["organiser", "create", "x@example.com"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output


HOSTILE_NEXT = [
    "//evil.example/x",
    "/%09/evil.example",
    "/%0D%0A/evil.example",
    "/%0A/evil.example",
    "%09//evil.example",
    "%20//evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "/%09%5Cevil.example",
    "https://evil.example/",
    "https:/evil.example",
    "javascript:alert(1)",
    "/%0D%0A//evil.example",
    "/%00/evil.example",
    "evil.example",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_redirect_refuses_hostile_next_values(client, make_organiser, target):
    organiser = make_organiser()
    response = post_login(client, organiser.email, PASSWORD, f"/auth/login?next={target}")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"


@pytest.mark.parametrize("target", ["/people/", "/events/3", "/people/?page=2"])
def test_login_redirect_keeps_same_site_paths(client, make_organiser, target):
    organiser = make_organiser()
    response = post_login(client, organiser.email, PASSWORD, f"/auth/login?next={target}")
    assert response.headers["Location"] == target


def log_out(client):
    page = client.get("/events/")
    assert client.post("/auth/logout", data={"csrf_token": csrf_from(page.data)}).status_code == 302


def test_a_session_cookie_copied_before_logout_no_longer_opens_pages(app, client, login):
    login()
    copied = client.get_cookie("session").value
    log_out(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/events/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_remember_cookie_copied_before_logout_no_longer_logs_in(app, client, make_organiser):
    organiser = make_organiser()
    post_login(client, organiser.email, PASSWORD, remember="y")
    remembered = client.get_cookie("remember_token")
    assert remembered is not None
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remembered.value)
    assert fresh.get("/events/").status_code == 200
    log_out(client)
    thief = app.test_client()
    thief.set_cookie("remember_token", remembered.value)
    response = thief.get("/events/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_remember_cookie_lasts_thirty_days(client, make_organiser):
    organiser = make_organiser()
    response = post_login(client, organiser.email, PASSWORD, remember="y")
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("remember_token="))
    assert "Max-Age=2592000" in cookie or "Max-Age" not in cookie and "Expires" in cookie
    assert client.application.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)


def test_a_password_change_ends_the_other_sessions(app, client, login):
    organiser = login()
    other = app.test_client()
    post_login(other, organiser.email, PASSWORD)
    assert client.get("/events/").status_code == other.get("/events/").status_code == 200
    set_password(db.session.get(Organiser, organiser.id), "a brand new password")
    db.session.commit()
    assert client.get("/events/").status_code == 302 and other.get("/events/").status_code == 302
    assert post_login(app.test_client(), organiser.email, "a brand new password").status_code == 302


def test_reloading_the_demo_ends_the_demo_organisers_sessions(app, client):
    email, password = load_demo(db.session, 5, app.config["LEVELS"])
    db.session.commit()
    assert post_login(client, email, password).status_code == 302
    assert client.get("/events/").status_code == 200
    load_demo(db.session, 5, app.config["LEVELS"])
    db.session.commit()
    assert client.get("/events/").status_code == 302


def test_logging_in_again_after_logout_works(client, login):
    organiser = login()
    log_out(client)
    login(organiser)
    assert client.get("/events/").status_code == 200


def post_login_from(client, address, email, password, **headers):
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/auth/login", environ_base=environ, headers=headers).data)
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post("/auth/login", data=data, environ_base=environ, headers=headers)


def test_failures_from_one_address_do_not_lock_the_organiser_out_elsewhere(app, client, make_organiser):
    organiser = make_organiser()
    for _ in range(5):
        assert post_login_from(app.test_client(), "198.51.100.1", organiser.email, "wrong guess!!").status_code == 401
    locked = post_login_from(app.test_client(), "198.51.100.1", organiser.email, PASSWORD)
    assert locked.status_code == 401 and b"Too many failed logins" in locked.data
    assert post_login_from(app.test_client(), "198.51.100.2", organiser.email, PASSWORD).status_code == 302


def test_many_failures_from_one_address_lock_that_address_for_every_email(database_url, tmp_path):
    app = session_app(database_url, tmp_path, LOGIN_MAX_FAILURES_PER_IP=3)
    with app.app_context():
        organiser = create_organiser(db.session, "org@example.com", "Olivia", PASSWORD)
        db.session.commit()
        for guess in ("a@example.com", "b@example.com", "c@example.com"):
            assert post_login_from(app.test_client(), "198.51.100.1", guess, "wrong guess!!").status_code == 401
        locked = post_login_from(app.test_client(), "198.51.100.1", organiser.email, PASSWORD)
        assert locked.status_code == 401 and b"Too many failed logins" in locked.data
        assert post_login_from(app.test_client(), "198.51.100.9", organiser.email, PASSWORD).status_code == 302
        db.session.remove()
        db.engine.dispose()


def test_x_forwarded_for_is_ignored_without_proxy_fix(app, client, make_organiser):
    organiser = make_organiser()
    for number in range(5):
        forwarded = {"X-Forwarded-For": f"203.0.113.{number}"}
        assert post_login_from(app.test_client(), "127.0.0.1", organiser.email, "wrong guess!!", **forwarded).status_code == 401
    other = {"X-Forwarded-For": "203.0.113.99"}
    locked = post_login_from(app.test_client(), "127.0.0.1", organiser.email, PASSWORD, **other)
    assert locked.status_code == 401 and b"Too many failed logins" in locked.data


def test_x_forwarded_for_is_honoured_behind_a_configured_proxy(database_url, tmp_path):
    app = session_app(database_url, tmp_path, PROXY_FIX_X_FOR=1)
    with app.app_context():
        organiser = create_organiser(db.session, "org@example.com", "Olivia", PASSWORD)
        db.session.commit()
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(5):
            assert post_login_from(app.test_client(), "127.0.0.1", organiser.email, "wrong!!!!!", **attacker).status_code == 401
        assert post_login_from(app.test_client(), "127.0.0.1", organiser.email, PASSWORD, **attacker).status_code == 401
        owner = {"X-Forwarded-For": "203.0.113.8"}
        assert post_login_from(app.test_client(), "127.0.0.1", organiser.email, PASSWORD, **owner).status_code == 302
        failure = db.session.scalars(select(LoginFailure)).first()
        assert failure.remote_addr == "203.0.113.7"
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("name", ["Eve\r\nBcc: all@example.com", "Eve\nEvil", "Eve\x00", "Eve\x1b[31m"])
def test_organiser_create_command_refuses_control_characters_in_the_name(app, name):
    arguments = ["organiser", "create", "eve@example.com", "--name", name]
    result = app.test_cli_runner().invoke(args=arguments, input="a long password\n")
    assert result.exit_code != 0 and "The name contains" in result.output
    assert db.session.scalar(select(Organiser).where(Organiser.email == "eve@example.com")) is None


def test_create_organiser_refuses_a_name_with_a_line_break(app):
    with pytest.raises(AccountError, match="line break"):
        create_organiser(db.session, "eve@example.com", "Eve\r\nEvil", PASSWORD)
