"""Single sign-on: the organiser that an identity provider's verified claims name, created when its domain is allowed."""

import secrets
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..models import Organiser, OrganiserRole
from ..text import control_problem
from . import audit
from .accounts import AccountError, normalise_email


class SSOError(AccountError):
    """A single sign-on that cannot log anybody in."""


def organiser_for_claims(session: Session, claims: Mapping[str, Any], *, allowed_domains: Collection[str]) -> Organiser:
    """Return the organiser whose email (any case) the claims carry; create one when its domain is allowed; else raise SSOError."""
    raw = claims.get("email")
    if not isinstance(raw, str) or not raw.strip():
        raise SSOError("The identity provider sent no email address, so no organiser could be found. "
                       "Ask its administrator to release the email claim to this app.")
    if claims.get("email_verified") in (False, "false"):
        raise SSOError(f"The identity provider has not verified the email address {raw.strip()}: nobody was logged in.")
    email = normalise_email(raw)
    organiser = session.scalar(select(Organiser).where(func.lower(Organiser.email) == email))
    if organiser is not None:
        if not organiser.is_active:
            raise SSOError("This account is deactivated: ask an admin.")
        return organiser
    domain = email.rsplit("@", 1)[1]
    if domain not in domain_set(allowed_domains):
        raise SSOError(f"No organiser has the email address {email}, and {domain} is not a domain whose people may "
                       "become organisers. Ask an organiser to add you.")
    role = OrganiserRole.ORGANISER if session.scalar(select(Organiser.id).limit(1)) else OrganiserRole.ADMIN
    organiser = Organiser(email=email, name=_name(claims.get("name"), email), password_hash=unusable_password_hash(), role=role)
    session.add(organiser)
    session.flush()
    audit.record(session, "organiser.create", actor=audit.SYSTEM, subject=("organiser", organiser.id),
                 summary=f"{organiser.email} as {organiser.role} at their first single sign-on")
    return organiser


def domain_set(domains: Collection[str] | str) -> set[str]:
    """Return the lower-case domains of a list or a comma-separated string ("example.com, @example.org")."""
    if isinstance(domains, str):
        domains = domains.split(",")
    return {domain.strip().lstrip("@").lower() for domain in domains if domain.strip()}


def unusable_password_hash() -> str:
    """Return the hash of a random password nobody knows: an organiser created by SSO cannot log in with a password."""
    return generate_password_hash(secrets.token_urlsafe(32))


def _name(claim: Any, email: str) -> str:
    if not isinstance(claim, str) or not claim.strip() or control_problem(claim):
        return email
    return claim.strip()[:200]
