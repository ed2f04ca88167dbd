"""RSVP and reply-address tokens: random or derived from a stored seed and the secret key, only their SHA-256 kept.

An invitation keeps a random seed; its RSVP token and its reply token are HMAC-SHA256 of the
secret key over the purpose and that seed, so follow-up mail can rebuild both while the database
alone (without the secret) holds no working token.
"""

import base64
import hashlib
import hmac
import re
import secrets

from .errors import PlannerError

TOKEN_BYTES = 24
REPLY_TOKEN_BYTES = 20
SEED_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")
_REPLY_SHAPE = re.compile(r"^[a-z2-7]{32}$")


class TokenError(PlannerError):
    """A token that is malformed or matches nothing."""

    @classmethod
    def invalid(cls) -> "TokenError":
        """Return the error for a token that is malformed or unknown."""
        return cls("This link is not valid.")


def new_token() -> tuple[str, str]:
    """Return a fresh URL-safe token and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """Return the stored form of a token; raise TokenError when it cannot be one of ours."""
    if not isinstance(token, str) or not _TOKEN_SHAPE.match(token):
        raise TokenError.invalid()
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_reply_token() -> tuple[str, str]:
    """Return a fresh lower-case token for a reply address (160 bits) and the hash to store for it."""
    token = _reply_form(secrets.token_bytes(REPLY_TOKEN_BYTES))
    return token, hash_reply_token(token)


def hash_reply_token(token: str) -> str:
    """Return the stored form of a reply-address token; raise TokenError when it cannot be one of ours."""
    token = token.lower() if isinstance(token, str) else ""
    if not _REPLY_SHAPE.match(token):
        raise TokenError.invalid()
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_seed() -> str:
    """Return a fresh random seed (256 bits, URL-safe) to store on an invitation."""
    return secrets.token_urlsafe(SEED_BYTES)


def derived_token(secret: str | bytes, seed: str) -> str:
    """Return the RSVP token (192 bits, URL-safe) that the secret key makes of an invitation's seed."""
    return base64.urlsafe_b64encode(_derive(secret, "rsvp", seed)[:TOKEN_BYTES]).decode("ascii")


def derived_reply_token(secret: str | bytes, seed: str) -> str:
    """Return the reply-address token (160 bits, lower-case base32) that the secret key makes of an invitation's seed."""
    return _reply_form(_derive(secret, "reply", seed)[:REPLY_TOKEN_BYTES])


def answer_form_token(secret: str | bytes, token_hash: str) -> str:
    """Return the CSRF token of an invitation's answer form (256 bits, URL-safe): bound to the invitation, not a session."""
    return base64.urlsafe_b64encode(_derive(secret, "rsvp-form", token_hash)).decode("ascii")


def _derive(secret: str | bytes, purpose: str, seed: str) -> bytes:
    if not secret or not seed:
        raise ValueError("deriving a token needs a secret key and a seed")
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, f"{purpose}:{seed}".encode("utf-8"), hashlib.sha256).digest()


def _reply_form(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").lower()
