"""Who: organisers, their logins, the staff directory and each person's needs."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..directory import search_key
from ..extensions import db
from .base import UTCDateTime, utcnow


class OrganiserRole(enum.StrEnum):
    """What an organiser may do: admins run the installation, organisers their own events, viewers only look."""

    ADMIN = "admin"
    ORGANISER = "organiser"
    VIEWER = "viewer"


class DigestMode(enum.StrEnum):
    """What an organiser hears about answers: nothing, one mail a day, or a mail per answer."""

    OFF = "off"
    DAILY = "daily"
    EACH = "each"


class Organiser(UserMixin, db.Model):
    """A person who logs in to plan events."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: part of every session and remember cookie; raising it ends them all (logout, password change)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest: Mapped[DigestMode] = mapped_column(String(20), default=DigestMode.DAILY, server_default="daily")
    #: when the digest setting last changed: nothing older is reported
    digest_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    role: Mapped[OrganiserRole] = mapped_column(String(20), default=OrganiserRole.ORGANISER, server_default="organiser")
    #: a deactivated organiser cannot log in (Flask-Login reads this); their events stay
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    @property
    def is_admin(self) -> bool:
        """Whether this organiser manages organisers, roles, the directory and settings."""
        return self.role == OrganiserRole.ADMIN

    @property
    def can_change(self) -> bool:
        """Whether this organiser may change anything (viewers only look)."""
        return self.role != OrganiserRole.VIEWER

    def get_id(self) -> str:
        """Return the id Flask-Login keeps in cookies: the organiser's id and session version."""
        return f"{self.id}:{self.session_version}"


class LoginFailure(db.Model):
    """One failed login, kept for rate limiting."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Person(db.Model):
    """A member of staff from the directory."""

    #: covers the proposal's head count per department and level of the eligible (an index-only scan)
    __table_args__ = (Index("ix_person_cell", "department", "level", "is_active", "is_opted_out", "on_leave_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stored lower-case so that matching is case-insensitive
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: indexed: lists of people in name order stop at their first rows
    name: Mapped[str] = mapped_column(String(200), index=True)
    department: Mapped[str] = mapped_column(String(120), index=True)
    #: 0 = most junior, an index into the configured level ladder
    level: Mapped[int] = mapped_column(Integer, index=True)
    #: indexed: a proposal reads only the newcomers (joined in the last 30 days), not every start date
    joined_on: Mapped[date | None] = mapped_column(Date, index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    on_leave_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: name and email folded for accent- and case-insensitive search; set whenever either changes
    search_key: Mapped[str] = mapped_column(Text, default="")
    #: when an admin erased this person's personal data (planner.services.privacy); never invited again
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the identity provider's SCIM userName, when it provisioned this person (else userName is the email)
    scim_user_name: Mapped[str | None] = mapped_column(String(254), unique=True)
    #: the identity provider's own id for this person (SCIM externalId)
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: when the identity provider deleted this person over SCIM: the row stays, inactive, with its history
    scim_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @validates("name", "email")
    def _keep_search_key(self, key: str, value: str) -> str:
        name = value if key == "name" else self.name
        email = value if key == "email" else self.email
        self.search_key = search_key(name or "", email or "")
        return value


#: SCIM's userName, case-insensitive: the identity provider's, else the email (a lookup each user of a sync makes)
Index("ix_person_user_name", func.lower(func.coalesce(Person.scim_user_name, Person.email)))
#: the directory's order (planner.services.people.DIRECTORY_ORDER): a page of the people list reads its rows, no sort
Index("ix_person_directory", Person.department, Person.level.desc(), Person.name, Person.id)


class StagedImport(db.Model):
    """A validated directory upload waiting for the organiser's confirmation."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id"))
    filename: Mapped[str] = mapped_column(String(255))
    #: JSON list of validated rows
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonNeeds(db.Model):
    """A person's dietary and access needs, remembered for every event and shown only to organisers."""

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    #: the common diets ticked, comma-separated codes (planner.services.needs.DIETS)
    diets: Mapped[str] = mapped_column(String(200), default="")
    diet_note: Mapped[str] = mapped_column(Text, default="")
    access_note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
