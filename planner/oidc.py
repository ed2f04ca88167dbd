"""The OpenID Connect client (Authlib): registered on the app only when OIDC_DISCOVERY_URL is set; Authlib loads only then."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, request

from .security import UnsafeSettingsError, is_production, provider_origin
from .services.sso import SSOError

CLIENT = "sso"
#: the session key set by an SSO login: its ID token (the hint for logging out at the provider), or "" when too long
ID_TOKEN = "sso_id_token"
#: a longer ID token is not kept: with it the session cookie could pass the browsers' 4 KB limit
MAX_ID_TOKEN_IN_SESSION = 2048
_EXTENSION = "authlib.integrations.flask_client"


def is_enabled(config: Mapping[str, Any]) -> bool:
    """Whether single sign-on is configured (a discovery URL is set)."""
    return bool(config["OIDC_DISCOVERY_URL"])


def check_settings(config: Mapping[str, Any]) -> None:
    """Raise UnsafeSettingsError when the SSO settings cannot work (SSO_ONLY without SSO, SSO without a client) or are
    unsafe (a production installation asking its provider over http)."""
    if config["SSO_ONLY"] is True and not is_enabled(config):
        raise UnsafeSettingsError("SSO_ONLY is set but OIDC_DISCOVERY_URL is not: nobody could log in.")
    if not is_enabled(config):
        return
    if not (config["OIDC_CLIENT_ID"] and config["OIDC_CLIENT_SECRET"]):
        raise UnsafeSettingsError("OIDC_DISCOVERY_URL is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too.")
    if is_production(config) and not str(config["OIDC_DISCOVERY_URL"]).lower().startswith("https://"):
        raise UnsafeSettingsError("OIDC_DISCOVERY_URL must be https on a production installation: over http anybody "
                                  "on the way could answer for the identity provider.")


def init_app(app: Flask) -> None:
    """Register the provider's client (authorization code flow, PKCE S256, nonce) when SSO is configured."""
    check_settings(app.config)
    if not is_enabled(app.config):
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    oauth.register(
        CLIENT,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=app.config["OIDC_DISCOVERY_URL"],
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            "default_timeout": float(app.config["OIDC_TIMEOUT"]),
        },
    )


def _client():
    return current_app.extensions[_EXTENSION].create_client(CLIENT)


def begin_login(redirect_uri: str):
    """Return the redirect to the provider's login; the state, nonce and PKCE verifier wait in the session."""
    with _refusals():
        return _client().authorize_redirect(redirect_uri)


def finish_login() -> tuple[dict[str, Any], str]:
    """Check the provider's answer (its issuer, state, code, ID token and nonce); return the user's claims and the ID token."""
    with _refusals():
        client = _client()
        issuer = request.args.get("iss")
        if issuer is not None and issuer != client.load_server_metadata().get("issuer"):
            raise SSOError(f"This sign-in answer comes from another identity provider ({issuer}): nobody was logged in.")
        token = client.authorize_access_token()
        claims = token.get("userinfo")
        if claims is None:
            raise SSOError("The identity provider sent no ID token: nobody was logged in.")
        if not claims.get("email"):
            extra = client.userinfo(token=token)
            if extra.get("sub") != claims["sub"]:
                raise SSOError("The identity provider's user info is about somebody else: nobody was logged in.")
            claims = {**extra, **claims}
        return dict(claims), token["id_token"]


def session_marker(id_token: str) -> str:
    """Return what the session keeps under ID_TOKEN after an SSO login: the ID token, or "" when it is too long."""
    return id_token if len(id_token) <= MAX_ID_TOKEN_IN_SESSION else ""


def logout_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """Return the provider's end-session URL after an SSO login (id_token: ID_TOKEN's value), or None without one.

    Only an endpoint on the discovery URL's origin is used: the CSP lets the logout form lead there and nowhere else.
    """
    if id_token is None or not is_enabled(current_app.config):
        return None
    try:
        with _refusals():
            client = _client()
            endpoint = client.load_server_metadata().get("end_session_endpoint")
            if not endpoint or not endpoint.lower().startswith(provider_origin(current_app.config) + "/"):
                return None
            return client.create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token or None,
                                            client_id=current_app.config["OIDC_CLIENT_ID"])["url"]
    except SSOError:
        return None


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn what Authlib and the network raise into an SSOError with a message for the organiser."""
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from requests import RequestException

    try:
        yield
    except MismatchingStateError as error:
        raise SSOError("This sign-in answer is unknown or was used already (its state does not match): "
                       "nobody was logged in. Please sign in again.") from error
    except OAuthError as error:
        why = error.description or error.error
        raise SSOError(f"The identity provider did not sign you in ({why}): nobody was logged in.") from error
    except AuthlibBaseError as error:
        raise SSOError(f"The identity provider's answer is not valid ({error}): nobody was logged in.") from error
    except RequestException as error:
        raise SSOError(f"The identity provider could not be reached ({type(error).__name__}): nobody was logged in.") from error
