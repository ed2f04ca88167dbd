"""Organiser accounts, their sessions, and login with rate limiting."""

from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import PlannerError
from ..models import Event, EventStatus, LoginFailure, Organiser, OrganiserRole, Series, event_co_organiser, series_co_organiser, utcnow
from ..text import control_problem

MIN_PASSWORD_LENGTH = 10


class AccountError(PlannerError):
    """A login or account request that cannot be granted."""


def normalise_email(address: str) -> str:
    """Return a validated, lower-case email address; raise AccountError when it is not one."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(f"Not a valid email address: {error}") from None


def create_organiser(
    session: Session, email: str, name: str, password: str, role: OrganiserRole | None = None
) -> Organiser:
    """Add an organiser with a hashed password; the installation's first organiser is an admin unless a role is given."""
    email = normalise_email(email)
    problem = control_problem(name)
    if problem:
        raise AccountError(f"The name {problem}.")
    _check_password(password)
    if session.scalar(select(Organiser).where(Organiser.email == email)):
        raise AccountError(f"An organiser with the email {email} already exists.")
    if role is None:
        role = OrganiserRole.ORGANISER if session.scalar(select(Organiser.id).limit(1)) else OrganiserRole.ADMIN
    organiser = Organiser(email=email, name=name.strip() or email, password_hash=generate_password_hash(password),
                          role=role)
    session.add(organiser)
    session.flush()
    return organiser


def set_password(organiser: Organiser, password: str) -> None:
    """Replace an organiser's password and end every session logged in with the old one."""
    _check_password(password)
    organiser.password_hash = generate_password_hash(password)
    end_sessions(organiser)


def end_sessions(organiser: Organiser) -> None:
    """Make every session and remember cookie of this organiser invalid (in SQL, so two at once both count)."""
    organiser.session_version = Organiser.session_version + 1


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")


def authenticate(
    session: Session,
    email: str,
    password: str,
    remote_addr: str,
    *,
    max_failures: int,
    max_failures_per_address: int,
    window: timedelta,
) -> Organiser:
    """Return the organiser for these credentials; raise AccountError, also after too many recent failures.

    Failures count per (email, address) against max_failures, and per address against max_failures_per_address,
    so a stranger's wrong guesses lock out only the stranger's own address, never the organiser elsewhere.
    """
    email = email.strip().lower()
    now = utcnow()
    for_email, for_address = recent_failures(session, email, remote_addr, now - window)
    if for_email >= max_failures or for_address >= max_failures_per_address:
        minutes = max(1, int(window.total_seconds() // 60))
        raise AccountError(f"Too many failed logins. Try again in {minutes} minutes.")
    organiser = session.scalar(select(Organiser).where(Organiser.email == email))
    if organiser is None or not check_password_hash(organiser.password_hash, password):
        record_failure(session, email, remote_addr, now, window)
        raise AccountError("Wrong email or password.")
    if not organiser.is_active:
        raise AccountError("This account is deactivated: ask an admin.")
    return organiser


def _other_active_admins(session: Session, organiser: Organiser) -> int:
    query = select(func.count(Organiser.id)).where(
        Organiser.role == OrganiserRole.ADMIN, Organiser.is_active, Organiser.id != organiser.id
    )
    return session.scalar(query)


def _keeps_an_admin(session: Session, organiser: Organiser, what: str) -> None:
    """Refuse to take away the installation's last active admin."""
    if organiser.is_admin and organiser.is_active and not _other_active_admins(session, organiser):
        raise AccountError(f"{organiser.email} is the last active admin and cannot be {what}: make another admin first.")


def set_role(session: Session, organiser: Organiser, role: OrganiserRole) -> int:
    """Give an organiser another role; AccountError when that would leave no active admin.

    A viewer reads and never runs events, so one made a viewer leaves every event and series they co-organised: return
    how many (0 for any other role). What they own stays theirs until an admin hands it over.
    """
    if role != OrganiserRole.ADMIN:
        _keeps_an_admin(session, organiser, f"made {role.value}")
    organiser.role = role
    session.flush()
    if role != OrganiserRole.VIEWER:
        return 0
    left = sum(session.execute(delete(table).where(table.c.organiser_id == organiser.id)).rowcount
               for table in (event_co_organiser, series_co_organiser))
    session.expire_all()  # co-organiser lists loaded before the delete
    return left


def owned_count(session: Session, organiser: Organiser, now: datetime) -> int:
    """How many series and events still to come (not cancelled) this organiser owns: what a handover would pass on."""
    events = select(func.count(Event.id)).where(Event.organiser_id == organiser.id, Event.starts_at > now,
                                                Event.status != EventStatus.CANCELLED)
    return session.scalar(events) + session.scalar(select(func.count(Series.id)).where(Series.organiser_id == organiser.id))


def set_active(session: Session, organiser: Organiser, is_active: bool) -> None:
    """Deactivate an organiser (their sessions end, they cannot log in; their events stay) or activate them again."""
    if not is_active:
        _keeps_an_admin(session, organiser, "deactivated")
        end_sessions(organiser)
    organiser.is_active = is_active
    session.flush()


def recent_failures(session: Session, email: str, remote_addr: str | None, since: datetime) -> tuple[int, int]:
    """Return the failures since `since` from this address: for this email (or marker, such as SCIM's), and for any."""
    query = select(
        func.count(case((LoginFailure.email == email, LoginFailure.id))),
        func.count(LoginFailure.id),
    ).where(LoginFailure.failed_at >= since, LoginFailure.remote_addr == _address(remote_addr))
    for_email, for_address = session.execute(query).one()
    return for_email, for_address


def record_failure(session: Session, email: str, remote_addr: str | None, now: datetime, window: timedelta) -> None:
    """Count a failure from this address for this email (or marker), and drop every failure older than the window."""
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - window))
    session.add(LoginFailure(email=email, remote_addr=_address(remote_addr), failed_at=now))
    session.flush()


def _address(remote_addr: str | None) -> str:
    return (remote_addr or "unknown")[:64]
