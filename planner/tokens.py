"""RSVP and reply-address tokens: random, handed out once, only their SHA-256 kept."""

import base64
import hashlib
import re
import secrets

from .errors import PlannerError

TOKEN_BYTES = 24
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
    token = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()
    return token, hash_reply_token(token)


def hash_reply_token(token: str) -> str:
    """Return the stored form of a reply-address token; raise TokenError when it cannot be one of ours."""
    token = token.lower() if isinstance(token, str) else ""
    if not _REPLY_SHAPE.match(token):
        raise TokenError.invalid()
    return hashlib.sha256(token.encode("ascii")).hexdigest()
