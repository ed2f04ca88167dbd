"""Organiser login, logout, rate limiting and page protection."""

import pytest
from sqlalchemy import select

from planner.extensions import db
from planner.models import Organiser
from tests.helpers import PASSWORD, csrf_from

PROTECTED = ["/events/", "/events/new", "/people/", "/people/import", "/mailbox/"]


@pytest.mark.parametrize("path", PROTECTED)
def test_organiser_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def post_login(client, email, password):
    token = csrf_from(client.get("/auth/login").data)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})


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


def test_login_redirect_only_goes_to_local_paths(client, make_organiser):
    organiser = make_organiser()
    token = csrf_from(client.get("/auth/login").data)
    response = client.post("/auth/login?next=//evil.example/x", data={"email": organiser.email, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/events/"


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
