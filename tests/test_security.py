"""Security headers: HSTS when the site is served over https, and the headers every page carries."""

import pytest

from planner.app import create_app


def bare_app(tmp_path, **settings):
    """An app that needs no database for the pages these tests open."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite'}",
        "MAIL_TRANSPORT": "smtp",
        **settings,
    }
    return create_app(config)


def test_https_sites_pin_https_for_a_year_with_subdomains(tmp_path):
    response = bare_app(tmp_path, BASE_URL="https://planner.example.com").test_client().get("/auth/login")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_hsts_is_configurable(tmp_path):
    app = bare_app(tmp_path, BASE_URL="https://planner.example.com", HSTS_MAX_AGE=600, HSTS_INCLUDE_SUBDOMAINS=False)
    assert app.test_client().get("/auth/login").headers["Strict-Transport-Security"] == "max-age=600"


@pytest.mark.parametrize("path", ["/auth/login", "/no-such-page", "/static/style.css"])
def test_http_sites_send_no_hsts(tmp_path, path):
    response = bare_app(tmp_path, BASE_URL="http://planner.example.com").test_client().get(path)
    assert "Strict-Transport-Security" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/auth/login", "/no-such-page", "/static/style.css"])
def test_every_https_response_carries_hsts(tmp_path, path):
    response = bare_app(tmp_path, BASE_URL="https://planner.example.com").test_client().get(path)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
