"""A live app served by a real WSGI server, and Playwright driving Debian's Chromium."""

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from planner.extensions import db
from planner.services.accounts import create_organiser
from tests.helpers import PASSWORD, make_app
from tests.oidc_provider import OIDCProvider, skip_reason
from tests.smtp_server import SMTPServer

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class LiveServer:
    """An app on 127.0.0.1 with a free port, served from a thread, mailing to a test SMTP server.

    The app may come after the port (app=None, then set .app): an app whose settings need the URL is built with it.
    """

    def __init__(self, app, smtp: SMTPServer | None):
        self.app = app
        self.smtp = smtp
        self._server = make_server("127.0.0.1", 0, self._serve, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        if app is not None:
            app.config["BASE_URL"] = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _serve(self, environ, start_response):
        return self.app(environ, start_response)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server(tmp_path):
    """A running app on a fresh SQLite file whose mail goes to a real SMTP server (live_server.smtp)."""
    with SMTPServer() as smtp:
        app = make_app(
            f"sqlite:///{tmp_path / 'live.sqlite'}",
            tmp_path,
            MAIL_TRANSPORT="smtp",
            SMTP_HOST=smtp.host,
            SMTP_PORT=smtp.port,
            SMTP_TIMEOUT=5,
            MAIL_SEND_AFTER_COMMIT=True,
            SEATING_INLINE=True,
        )
        server = LiveServer(app, smtp).start()
        yield server
        server.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def sso_live_server(tmp_path):
    """A running app whose single sign-on goes to a real OpenID provider (sso_live_server.provider) with the account
    "olivia" (olivia@example.com, an organiser); skipped with a reason without Node.js or the npm package."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = LiveServer(None, None)
    accounts = {"olivia": {"email": "Olivia@Example.com", "name": "Olivia", "email_verified": True}}
    with OIDCProvider(tmp_path / "oidc", redirect_uris=[f"{server.url}/auth/sso/callback"], accounts=accounts,
                      post_logout_redirect_uris=[f"{server.url}/auth/login"]) as provider:
        app = make_app(f"sqlite:///{tmp_path / 'live.sqlite'}", tmp_path, BASE_URL=server.url, **provider.settings())
        with app.app_context():
            create_organiser(db.session, "olivia@example.com", "Olivia Organiser", PASSWORD)
            db.session.commit()
        server.app = app
        server.provider = provider
        server.start()
        yield server
        server.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright; skipped with a reason when it is not installed."""
    executable = shutil.which("chromium")
    if not executable:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page for one test."""
    context = browser.new_context()
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()
