"""Organiser accounts and login with rate limiting."""

from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import PlannerError
from ..models import LoginFailure, Organiser, utcnow

MIN_PASSWORD_LENGTH = 10


class AccountError(PlannerError):
    """A login or account request that cannot be granted."""


def normalise_email(address: str) -> str:
    """Return a validated, lower-case email address; raise AccountError when it is not one."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(f"Not a valid email address: {error}") from None


def create_organiser(session: Session, email: str, name: str, password: str) -> Organiser:
    """Add an organiser with a hashed password."""
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if session.scalar(select(Organiser).where(Organiser.email == email)):
        raise AccountError(f"An organiser with the email {email} already exists.")
    organiser = Organiser(email=email, name=name.strip() or email, password_hash=generate_password_hash(password))
    session.add(organiser)
    session.flush()
    return organiser


def set_password(organiser: Organiser, password: str) -> None:
    """Replace an organiser's password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    organiser.password_hash = generate_password_hash(password)


def authenticate(
    session: Session, email: str, password: str, remote_addr: str, *, max_failures: int, window: timedelta
) -> Organiser:
    """Return the organiser for these credentials; raise AccountError, also when too many recent failures."""
    email = email.strip().lower()
    now = utcnow()
    recent = _recent_failures(session, email, remote_addr, now - window)
    if recent >= max_failures:
        minutes = max(1, int(window.total_seconds() // 60))
        raise AccountError(f"Too many failed logins. Try again in {minutes} minutes.")
    organiser = session.scalar(select(Organiser).where(Organiser.email == email))
    if organiser is None or not check_password_hash(organiser.password_hash, password):
        session.add(LoginFailure(email=email, remote_addr=remote_addr or "unknown", failed_at=now))
        session.flush()
        raise AccountError("Wrong email or password.")
    return organiser


def _recent_failures(session: Session, email: str, remote_addr: str, since: datetime) -> int:
    query = select(func.count(LoginFailure.id)).where(
        LoginFailure.failed_at >= since,
        or_(LoginFailure.email == email, LoginFailure.remote_addr == (remote_addr or "unknown")),
    )
    return session.scalar(query) or 0
