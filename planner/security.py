"""HTTP security headers for every response, and the settings a production installation may not start with."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import PlannerError

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class UnsafeSettingsError(PlannerError):
    """The settings are wrong, or unsafe for a production installation: the app refuses to start."""


def add_security_headers(response: Response) -> Response:
    """Forbid framing, inline scripts and leaking URLs (RSVP tokens) to other sites; pin HTTPS when BASE_URL is https."""
    response.headers.setdefault("Content-Security-Policy", content_security_policy(current_app.config))
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    hsts = strict_transport_security(current_app.config)
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", hsts)
    return response


def content_security_policy(config: Mapping[str, Any]) -> str:
    """Return the CSP; with single sign-on, forms may also lead to its provider (the login and logout redirect there)."""
    provider = provider_origin(config)
    return CSP.replace("form-action 'self'", f"form-action 'self' {provider}") if provider else CSP


def provider_origin(config: Mapping[str, Any]) -> str | None:
    """Return the origin of the SSO provider's discovery URL (scheme://host[:port]), or None without SSO."""
    url = config["OIDC_DISCOVERY_URL"]
    if not url:
        return None
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}".lower()


def strict_transport_security(config: Mapping[str, Any]) -> str | None:
    """Return the Strict-Transport-Security value for these settings, or None when the site is not served over https."""
    if not is_https(config):
        return None
    value = f"max-age={int(config['HSTS_MAX_AGE'])}"
    return value + "; includeSubDomains" if config["HSTS_INCLUDE_SUBDOMAINS"] else value


def is_https(config: Mapping[str, Any]) -> bool:
    """Whether the installation is reached over https (its BASE_URL says so)."""
    return str(config["BASE_URL"]).lower().startswith("https://")


def is_production(config: Mapping[str, Any]) -> bool:
    """Whether these settings describe a production installation: served over https, or ENV = "production"."""
    return is_https(config) or str(config.get("ENV", "")).lower() == "production"


def check_production_settings(config: Mapping[str, Any]) -> None:
    """Raise UnsafeSettingsError when a production installation would keep its mail in the local mailbox.

    Only a real True allows it (PLANNER_ALLOW_MAILBOX_IN_PRODUCTION=true), not a string such as "False".
    """
    mailbox = str(config["MAIL_TRANSPORT"]).lower() == "mailbox"
    if mailbox and is_production(config) and config["ALLOW_MAILBOX_IN_PRODUCTION"] is not True:
        why = "BASE_URL is https" if is_https(config) else "ENV is production"
        raise UnsafeSettingsError(
            f"MAIL_TRANSPORT is 'mailbox' on a production installation ({why}): invitations would not be sent "
            "and every RSVP link would be kept in the instance folder. Configure SMTP (MAIL_TRANSPORT = 'smtp', "
            "SMTP_HOST, ...), or set ALLOW_MAILBOX_IN_PRODUCTION = True if this is really wanted."
        )


def trust_proxies(app: Flask) -> None:
    """Take the client address from X-Forwarded-For only when PROXY_FIX_X_FOR says how many proxies set it."""
    proxies = app.config["PROXY_FIX_X_FOR"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise UnsafeSettingsError(f"PROXY_FIX_X_FOR must be the number of proxies in front of the app (0: none), not {proxies!r}")
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)
