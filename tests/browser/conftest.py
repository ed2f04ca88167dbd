"""A live app served by a real WSGI server, and Playwright driving Debian's Chromium."""

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from planner.extensions import db
from tests.helpers import make_app
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
    """An app on 127.0.0.1 with a free port, served from a thread, mailing to a test SMTP server."""

    def __init__(self, app, smtp: SMTPServer):
        self.app = app
        self.smtp = smtp
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        app.config["BASE_URL"] = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
