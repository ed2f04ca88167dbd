"""Error pages: the site's layout and a way back; a personal link's 404 reveals nothing; the upload limit is said."""

import pytest
from flask import abort

from tests.helpers import make_app


@pytest.fixture
def error_app(tmp_path):
    """An app with routes that fail on purpose (and PROPAGATE_EXCEPTIONS off, as in production)."""
    app = make_app(f"sqlite:///{tmp_path / 'errors.sqlite'}", tmp_path, MAX_CONTENT_LENGTH=2 * 1024 * 1024)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/fail/<int:code>")
    def fail(code):
        if code == 500:
            raise RuntimeError("boom")
        abort(code)

    return app


@pytest.mark.parametrize(
    "code, heading",
    [(400, "Bad request"), (403, "Not allowed"), (404, "Not found"), (409, "Conflict"), (500, "Something went wrong")],
)
def test_error_pages_have_the_layout_and_a_way_back(error_app, code, heading):
    response = error_app.test_client().get(f"/fail/{code}")
    page = response.data.decode()
    assert response.status_code == code
    assert f"<h1>{heading}</h1>" in page and 'href="/static/style.css"' in page
    assert 'id="way-back" href="/auth/login"' in page
    assert "boom" not in page and "Traceback" not in page


def test_a_wrong_method_gets_its_page_and_the_allow_header(error_app):
    response = error_app.test_client().get("/auth/logout")
    assert response.status_code == 405 and "Not possible this way" in response.data.decode()
    assert "POST" in response.headers["Allow"]


def test_a_too_large_upload_says_the_limit_in_mb(error_app):
    response = error_app.test_client().post("/auth/login", data={"file": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "limit of 2 MB" in response.data.decode()


def test_a_bad_rsvp_link_gets_a_plain_404(error_app):
    response = error_app.test_client().get("/rsvp/" + "A" * 32)
    page = response.data.decode()
    assert response.status_code == 404 and "<h1>Not found</h1>" in page
    assert 'id="way-back"' not in page and "/auth/login" not in page
