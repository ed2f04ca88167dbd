"""Single sign-on with OpenID Connect, against a real OpenID provider (npm `oidc-provider` with Node.js) on loopback."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from planner.app import create_app
from planner.extensions import db
from planner.models import AuditEntry, Organiser
from planner.oidc import ID_TOKEN, session_marker
from planner.security import CSP, UnsafeSettingsError
from planner.services.accounts import create_organiser
from planner.services.sso import domain_set
from tests.helpers import PASSWORD, csrf_from, make_app
from tests.oidc_provider import CLIENT_ID, OIDCProvider, callback_path, skip_reason

BASE_URL = "http://planner.test"
ACCOUNTS = {
    "olivia": {"email": "OLIVIA@Example.COM", "name": "Olivia from the IdP", "email_verified": True},
    "nina": {"email": "nina@example.org", "name": "Nina New", "email_verified": True},
    "sam": {"email": "sam@example.net", "name": "Sam Stranger"},
    "ursula": {"email": "ursula@example.org", "name": "Ursula Unverified", "email_verified": False},
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """One running provider for the module's tests; skipped with a reason without Node.js or the npm package."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with OIDCProvider(tmp_path_factory.mktemp("oidc"), redirect_uris=[f"{BASE_URL}/auth/sso/callback"],
                      post_logout_redirect_uris=[f"{BASE_URL}/auth/login"], accounts=ACCOUNTS) as running:
        yield running


@pytest.fixture
def sso_app(provider, database_url, tmp_path, request):
    """An app whose single sign-on goes to the provider; a test's `settings` marker adds settings."""
    marker = request.node.get_closest_marker("settings")
    overrides = provider.settings(**{"OIDC_ALLOWED_DOMAINS": ["example.org"], **(marker.kwargs if marker else {})})
    app = make_app(database_url, tmp_path, BASE_URL=BASE_URL, **overrides)
    with app.app_context():
        create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def start(client, next_page=None) -> str:
    """Press "Sign in with Test IdP" on the login page; return the provider URL it redirects to."""
    page = client.get("/auth/login" + (f"?next={next_page}" if next_page else ""))
    assert b"Sign in with Test IdP" in page.data
    data = {"csrf_token": csrf_from(page.data), **({"next": next_page} if next_page else {})}
    response = client.post("/auth/sso/login", data=data)
    assert response.status_code == 302
    return response.headers["Location"]


def sso_log_in(client, provider, login, next_page=None):
    """Log in through the provider's login page as `login`; return the app's answer to the provider's redirect."""
    back = provider.sign_in(start(client, next_page), login)
    assert back.startswith(f"{BASE_URL}/auth/sso/callback?"), back
    return client.get(callback_path(back))


def logged_in(client) -> bool:
    return client.get("/events/").status_code == 200


def flashed(client, response) -> str:
    """Return the page a refusal redirects to (the login page with its message)."""
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/login")
    return client.get("/auth/login").get_data(as_text=True)


def test_an_organiser_logs_in_through_the_provider_with_pkce_state_and_nonce(sso_app, provider):
    client = sso_app.test_client()
    url = start(client)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.issuer + "/auth?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{BASE_URL}/auth/sso/callback"]
    response = client.get(callback_path(provider.sign_in(url, "olivia")))
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert logged_in(client)


def test_the_email_claim_matches_an_organiser_whatever_its_case(sso_app, provider):
    client = sso_app.test_client()
    sso_log_in(client, provider, "olivia")
    assert logged_in(client)
    organisers = db.session.scalars(select(Organiser)).all()
    assert [(o.email, o.name) for o in organisers] == [("olivia@example.com", "Olivia Organiser")]
    with client.session_transaction() as session:
        assert session["_user_id"] == organisers[0].get_id()


def audit_trail() -> list[tuple]:
    """Return (actor, action, object id, summary) of every audit entry, oldest first."""
    db.session.expire_all()
    query = select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject_id, AuditEntry.summary).order_by(AuditEntry.id)
    return [tuple(row) for row in db.session.execute(query)]


def test_sso_logins_refusals_and_new_organisers_are_audited(sso_app, provider):
    sso_log_in(sso_app.test_client(), provider, "olivia")
    sso_log_in(sso_app.test_client(), provider, "nina")
    sso_log_in(sso_app.test_client(), provider, "sam")
    olivia, nina = (db.session.scalar(select(Organiser.id).where(Organiser.email == email))
                    for email in ("olivia@example.com", "nina@example.org"))
    trail = audit_trail()
    assert trail[:3] == [
        ("olivia@example.com", "auth.login", olivia, "single sign-on"),
        ("system", "organiser.create", nina, "nina@example.org as organiser at their first single sign-on"),
        ("nina@example.org", "auth.login", nina, "single sign-on"),
    ]
    assert trail[3][:3] == ("visitor", "auth.login_failed", None) and "sam@example.net" in trail[3][3]
    assert len(trail) == 4


def test_a_deactivated_organiser_cannot_sign_in_through_the_provider(sso_app, provider):
    db.session.scalar(select(Organiser)).is_active = False
    db.session.commit()
    client = sso_app.test_client()
    page = flashed(client, sso_log_in(client, provider, "olivia"))
    assert "This account is deactivated: ask an admin." in page and not logged_in(client)


def test_after_sso_the_page_asked_for_is_shown(sso_app, provider):
    client = sso_app.test_client()
    response = sso_log_in(client, provider, "olivia", next_page="/people/")
    assert response.headers["Location"] == "/people/"


def test_someone_of_an_allowed_domain_becomes_an_organiser_without_a_usable_password(sso_app, provider):
    client = sso_app.test_client()
    sso_log_in(client, provider, "nina")
    assert logged_in(client)
    nina = db.session.scalar(select(Organiser).where(Organiser.email == "nina@example.org"))
    assert nina is not None and nina.name == "Nina New"
    other = sso_app.test_client()
    token = csrf_from(other.get("/auth/login").data)
    for guess in ("", "any", PASSWORD):
        response = other.post("/auth/login", data={"email": "nina@example.org", "password": guess, "csrf_token": token})
        assert response.status_code in (200, 401)
    assert not logged_in(other)


def test_someone_of_another_domain_is_refused_with_a_clear_message(sso_app, provider):
    client = sso_app.test_client()
    page = flashed(client, sso_log_in(client, provider, "sam"))
    assert "No organiser has the email address sam@example.net" in page
    assert "example.net is not a domain whose people may become organisers" in page
    assert not logged_in(client)
    assert db.session.scalar(select(func.count(Organiser.id))) == 1


@pytest.mark.settings(OIDC_ALLOWED_DOMAINS=[])
def test_without_allowed_domains_nobody_new_becomes_an_organiser(sso_app, provider):
    client = sso_app.test_client()
    page = flashed(client, sso_log_in(client, provider, "nina"))
    assert "example.org is not a domain whose people may become organisers" in page
    assert not logged_in(client)
    assert db.session.scalar(select(func.count(Organiser.id))) == 1


def test_an_email_the_provider_has_not_verified_is_refused(sso_app, provider):
    client = sso_app.test_client()
    page = flashed(client, sso_log_in(client, provider, "ursula"))
    assert "has not verified the email address ursula@example.org" in page
    assert not logged_in(client)
    assert db.session.scalar(select(func.count(Organiser.id))) == 1


def test_a_tampered_state_is_refused_and_logs_nobody_in(sso_app, provider):
    client = sso_app.test_client()
    back = provider.sign_in(start(client), "olivia")
    query = parse_qs(urlsplit(back).query)
    tampered = f"/auth/sso/callback?code={query['code'][0]}&state={query['state'][0]}x"
    page = flashed(client, client.get(tampered))
    assert "its state does not match" in page and "nobody was logged in" in page
    assert not logged_in(client)


def test_an_answer_naming_another_issuer_is_refused(sso_app, provider):
    client = sso_app.test_client()
    back = provider.sign_in(start(client), "olivia")
    query = parse_qs(urlsplit(back).query)
    assert query["iss"] == [provider.issuer]
    mixed_up = f"/auth/sso/callback?code={query['code'][0]}&state={query['state'][0]}&iss=https%3A%2F%2Fidp.example"
    assert "comes from another identity provider (https://idp.example)" in flashed(client, client.get(mixed_up))
    assert not logged_in(client)


def test_starting_a_login_needs_the_csrf_token(sso_app):
    assert sso_app.test_client().post("/auth/sso/login").status_code == 400


def test_a_callback_from_another_browser_is_refused(sso_app, provider):
    back = provider.sign_in(start(sso_app.test_client()), "olivia")
    thief = sso_app.test_client()
    page = flashed(thief, thief.get(callback_path(back)))
    assert "its state does not match" in page
    assert not logged_in(thief)


def test_a_replayed_callback_is_refused(sso_app, provider):
    client = sso_app.test_client()
    back = provider.sign_in(start(client), "olivia")
    assert client.get(callback_path(back)).status_code == 302 and logged_in(client)
    token = csrf_from(client.get("/events/").data)
    client.post("/auth/logout", data={"csrf_token": token})
    page = flashed(client, client.get(callback_path(back)))
    assert "was used already" in page
    assert not logged_in(client)


def test_a_refusal_at_the_provider_is_shown(sso_app, provider):
    client = sso_app.test_client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get(f"/auth/sso/callback?error=access_denied&error_description=End-User+aborted&state={state}")
    assert "The identity provider did not sign you in (End-User aborted)" in flashed(client, response)
    assert not logged_in(client)


def test_logout_ends_the_session_and_goes_on_to_the_providers_logout(sso_app, provider):
    client = sso_app.test_client()
    sso_log_in(client, provider, "olivia")
    copied = client.get_cookie("session").value
    response = client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/events/").data)})
    assert response.status_code == 302
    end = urlsplit(response.headers["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{provider.issuer}/session/end"
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == [f"{BASE_URL}/auth/login"] and query["id_token_hint"][0]
    assert not logged_in(client)
    thief = sso_app.test_client()
    thief.set_cookie("session", copied)
    assert not logged_in(thief)


def test_an_id_token_too_long_for_the_cookie_is_not_kept_and_logout_names_the_client_instead(sso_app, provider):
    assert session_marker("t" * 100) == "t" * 100 and session_marker("t" * 3000) == ""
    client = sso_app.test_client()
    sso_log_in(client, provider, "olivia")
    with client.session_transaction() as session:
        assert session[ID_TOKEN].count(".") == 2
        session[ID_TOKEN] = session_marker("t" * 3000)
    response = client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/events/").data)})
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "id_token_hint" not in query and query["client_id"] == [CLIENT_ID]
    assert not logged_in(client)


def test_a_password_login_does_not_go_on_to_the_providers_logout(sso_app):
    client = sso_app.test_client()
    token = csrf_from(client.get("/auth/login").data)
    client.post("/auth/login", data={"email": "olivia@example.com", "password": PASSWORD, "csrf_token": token})
    assert logged_in(client)
    response = client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/events/").data)})
    assert response.headers["Location"] == "/auth/login"
    assert not logged_in(client)


@pytest.mark.settings(SSO_ONLY=True)
def test_sso_only_hides_the_password_form_and_refuses_passwords(sso_app, provider):
    client = sso_app.test_client()
    page = client.get("/auth/login")
    assert b"Sign in with Test IdP" in page.data and b'name="password"' not in page.data
    data = {"email": "olivia@example.com", "password": PASSWORD, "csrf_token": csrf_from(page.data)}
    response = client.post("/auth/login", data=data)
    assert response.status_code == 403
    assert b"Password login is turned off on this site: sign in with Test IdP." in response.data
    assert not logged_in(client)
    sso_log_in(client, provider, "olivia")
    assert logged_in(client)


def test_with_sso_forms_may_lead_to_the_provider_and_nowhere_else(sso_app, provider):
    csp = sso_app.test_client().get("/auth/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {provider.issuer};" in csp


def test_without_a_discovery_url_nothing_changes(client):
    page = client.get("/auth/login")
    assert b"Sign in with" not in page.data and b'name="password"' in page.data
    assert page.headers["Content-Security-Policy"] == CSP
    token = csrf_from(page.data)
    assert client.post("/auth/sso/login", data={"csrf_token": token}).status_code == 404
    assert client.get("/auth/sso/callback?code=x&state=y").status_code == 404


@pytest.mark.parametrize("settings, message", [
    ({"SSO_ONLY": True}, "SSO_ONLY is set but OIDC_DISCOVERY_URL is not"),
    ({"OIDC_DISCOVERY_URL": "https://idp.example/.well-known/openid-configuration"}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
    ({"OIDC_DISCOVERY_URL": "http://idp.example/.well-known/openid-configuration", "OIDC_CLIENT_ID": "id",
      "OIDC_CLIENT_SECRET": "secret", "ENV": "production", "MAIL_TRANSPORT": "smtp"}, "must be https on a production"),
])
def test_settings_that_cannot_work_stop_the_app(tmp_path, settings, message):
    with pytest.raises(UnsafeSettingsError, match=message):
        create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path), **settings})


def test_allowed_domains_may_be_a_list_or_a_comma_separated_string():
    assert domain_set(["Example.com", "@corp.example"]) == {"example.com", "corp.example"}
    assert domain_set("example.com, @Corp.Example,") == {"example.com", "corp.example"}
    assert domain_set([]) == set()


IMPORTS = """
import json, os, sys
sys.argv = ["flask", *sys.argv[1:]]
os.environ["FLASK_RUN_FROM_CLI"] = "true"
from planner.app import create_app
create_app(json.loads(os.environ["SETTINGS"]))
print("authlib" in sys.modules)
"""


@pytest.mark.parametrize("command, sso, loads", [
    (["mail", "ingest"], True, False),
    (["run"], False, False),
    (["run"], True, True),
])
def test_authlib_loads_only_for_the_web_part_of_an_installation_with_sso(tmp_path, command, sso, loads):
    settings = {"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    if sso:
        settings |= {"OIDC_DISCOVERY_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
                     "OIDC_CLIENT_ID": "id", "OIDC_CLIENT_SECRET": "secret"}
    env = {**os.environ, "SETTINGS": json.dumps(settings), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-c", IMPORTS, *command], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == str(loads)
