"""A real OpenID provider (the npm package `oidc-provider`, run with Node.js) on a free loopback port, for the SSO tests."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Self
from urllib.parse import urljoin, urlsplit

NODE_DIR = Path(__file__).with_name("node")
SCRIPT = NODE_DIR / "oidc_provider.mjs"
CLIENT_ID = "team-planner"
CLIENT_SECRET = "a-client-secret-for-the-tests"


def skip_reason() -> str | None:
    """Say why the provider cannot run here (no Node.js, or the npm package missing), or None when it can."""
    if shutil.which("node") is None:
        return "Node.js is not installed (apt-get install nodejs): the SSO tests run the OpenID provider with it"
    if not (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return "the npm package oidc-provider is not installed: run `npm ci --prefix tests/node` (.ci/run does)"
    return None


class OIDCProvider:
    """The provider in a Node.js process, with one confidential client and the accounts {login name: claims}."""

    def __init__(self, folder: Path, *, redirect_uris: list[str], accounts: dict[str, dict],
                 post_logout_redirect_uris: list[str] = ()):
        folder.mkdir(parents=True, exist_ok=True)
        self._config = folder / "oidc-provider.json"
        self._log = folder / "oidc-provider.log"
        client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": list(redirect_uris),
                  "post_logout_redirect_uris": list(post_logout_redirect_uris)}
        self._config.write_text(json.dumps({"client": client, "accounts": accounts}))
        self._process: subprocess.Popen | None = None
        self.issuer = ""

    def __enter__(self) -> Self:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(["node", str(SCRIPT), str(self._config)], cwd=NODE_DIR,
                                             stdout=subprocess.PIPE, stderr=log)
        line = self._process.stdout.readline().decode()
        if not line.startswith("ISSUER "):
            self.__exit__()
            raise RuntimeError(f"the OpenID provider did not start: {self._log.read_text()}")
        self.issuer = line.split()[1]
        return self

    def __exit__(self, *_exc) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()
            self._process.stdout.close()

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def settings(self, **overrides) -> dict:
        """Return the app settings that point single sign-on at this provider."""
        return {"OIDC_DISCOVERY_URL": self.discovery_url, "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_LABEL": "Test IdP", **overrides}

    def sign_in(self, authorization_url: str, login: str) -> str:
        """Go through the provider's login page as a browser would (any password) and return the URL it sends back to."""
        import requests

        browser = requests.Session()
        url = authorization_url
        for _ in range(10):
            if not url.startswith(self.issuer + "/"):
                return url
            response = browser.get(url, allow_redirects=False, timeout=30)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            form = _login_form(response.text)
            assert form, f"no login form at {url}: {response.status_code} {response.text[:500]}"
            response = browser.post(urljoin(url, form), data={"prompt": "login", "login": login, "password": "any"},
                                    allow_redirects=False, timeout=30)
            assert response.is_redirect, response.text[:500]
            url = urljoin(url, response.headers["Location"])
        raise AssertionError(f"the provider never sent the browser back: {url}")


def _login_form(html: str) -> str | None:
    """Return the action of the page's login form (the one with a `login` field), or None."""

    class Forms(HTMLParser):
        action = None
        current = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.current = attrs.get("action")
            elif tag == "input" and attrs.get("name") == "login" and self.action is None:
                self.action = self.current

    parser = Forms()
    parser.feed(html)
    return parser.action


def callback_path(url: str) -> str:
    """Return the path and query of a URL, for the Flask test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
