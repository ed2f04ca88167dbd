"""SCIM 2.0 directory sync: people as SCIM Users, validated as CSV lines are, filtered and paged in SQL."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from scim2_models import (
    EnterpriseUser,
    InvalidFilterException,
    InvalidValueException,
    Meta,
    NotFoundException,
    ScimFilter,
    ScimPolicy,
    UniquenessException,
    User,
)
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from scim2_models.resources.user import Email
from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select
from sqlalchemy.orm import Session

from ..directory import EMAIL_MAX, PersonRow, read_person
from ..models import Person, utcnow
from ..text import control_problem
from .locking import lock_person
from .people import deactivate

ScimUser = User[EnterpriseUser]
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EXTERNAL_ID_MAX = 255
#: the most Users one list request returns (ServiceProviderConfig filter.maxResults)
MAX_RESULTS = 200
#: attributes that already carry a person's other columns, so never the level
TAKEN = {"username", "displayname", "active", "emails", "department", "password"}
#: lenient where identity providers are known to bend the RFC: unknown attributes are dropped, and Microsoft Entra's
#: PATCH habits (a filter path naming an email that is not there yet, a remove carrying a value) are honoured
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


@dataclass(frozen=True)
class Mapping:
    """How SCIM Users map to people: the level ladder and the string attribute that carries the level."""

    ladder: list[str]
    #: CORE or ENTERPRISE
    level_schema: str
    #: the attribute's SCIM name ("title", "employeeNumber", ...)
    level_name: str

    @classmethod
    def from_config(cls, attribute: str, ladder: list[str]) -> "Mapping":
        """Read SCIM_LEVEL_ATTRIBUTE: a core attribute name or "<enterprise URN>:<name>"; raise ValueError otherwise."""
        schema, _, name = attribute.rpartition(":")
        schema = schema or CORE
        models = {CORE: User, ENTERPRISE: EnterpriseUser}
        if schema not in models or name.lower() in TAKEN:
            raise ValueError(f"SCIM_LEVEL_ATTRIBUTE {attribute!r}: use a string attribute of the core User or the enterprise extension")
        found = [a for a in models[schema].to_schema().attributes if a.name.lower() == name.lower()]
        if not found or found[0].type != "string" or found[0].multi_valued:
            raise ValueError(f"SCIM_LEVEL_ATTRIBUTE {attribute!r} is not a single-valued string attribute of {schema}")
        return cls(ladder, schema, found[0].name)

    @property
    def level_path(self) -> str:
        """The level attribute as a SCIM path."""
        return self.level_name if self.level_schema == CORE else f"{ENTERPRISE}:{self.level_name}"

    def level_field(self) -> str:
        """The level attribute's field name in the scim2-models class."""
        model = User if self.level_schema == CORE else EnterpriseUser
        return next(name for name, info in model.model_fields.items() if (info.serialization_alias or name) == self.level_name)


def to_user(person: Person, mapping: Mapping, location: str) -> ScimUser:
    """Return a person as a SCIM User (with the enterprise extension) located at location."""
    user = ScimUser(
        id=str(person.id),
        external_id=person.external_id,
        user_name=person.scim_user_name or person.email,
        display_name=person.name,
        active=person.is_active,
        emails=[Email(value=person.email)],
        meta=Meta(resource_type="User", created=person.created_at, last_modified=person.updated_at, location=location),
    )
    enterprise = EnterpriseUser(department=person.department)
    level = mapping.ladder[person.level] if 0 <= person.level < len(mapping.ladder) else str(person.level)
    setattr(user if mapping.level_schema == CORE else enterprise, mapping.level_field(), level)
    user[EnterpriseUser] = enterprise
    return user


@dataclass(frozen=True)
class UserFields:
    """A SCIM User read into a person's columns, every value checked as a CSV line's is."""

    row: PersonRow
    user_name: str
    external_id: str | None


def read_user(user: ScimUser, mapping: Mapping, person: Person | None = None) -> UserFields:
    """Validate a User's values as a CSV line's (control characters, lengths, email, level); raise InvalidValueException."""
    user_name = (user.user_name or "").strip()
    enterprise = user[EnterpriseUser]
    level_holder = user if mapping.level_schema == CORE else enterprise
    level = getattr(level_holder, mapping.level_field(), None) if level_holder is not None else None
    record = {
        "email": _email(user) or user_name,
        "name": _name(user),
        "department": (enterprise.department if enterprise else None) or "",
        "level": str(level if level is not None else ""),
        "joined_on": person.joined_on.isoformat() if person and person.joined_on else "",
        "active": "no" if user.active is False else "yes",
    }
    sources = {"email": "emails.value (or userName)", "name": "displayName", "department": f"{ENTERPRISE}:department",
               "level": mapping.level_path, "active": "active"}
    try:
        row = read_person(record, mapping.ladder)
    except ValueError as error:
        column = next((name for name in sources if re.search(rf"\b{name}\b", str(error))), None)
        raise InvalidValueException(detail=f"{error} (from {sources[column]})" if column else str(error)) from None
    external_id = user.external_id.strip() if user.external_id else None
    for label, value, limit in (("userName", user_name, EMAIL_MAX), ("externalId", external_id or "", EXTERNAL_ID_MAX)):
        problem = control_problem(value)
        if problem:
            raise InvalidValueException(detail=f"{label} {problem}")
        if len(value) > limit:
            raise InvalidValueException(detail=f"{label} has {len(value)} characters; at most {limit} fit")
    if not user_name:
        raise InvalidValueException(detail="missing userName")
    return UserFields(row, user_name, external_id or None)


def _email(user: ScimUser) -> str:
    """The primary address, else the work address, else the first one."""
    emails = [email for email in user.emails or [] if email.value]
    chosen = [email for email in emails if email.primary] or [email for email in emails if email.type == "work"] or emails
    return chosen[0].value.strip() if chosen else ""


def _name(user: ScimUser) -> str:
    if user.display_name and user.display_name.strip():
        return user.display_name
    if user.name is None:
        return ""
    return user.name.formatted or " ".join(part for part in (user.name.given_name, user.name.family_name) if part)


def find_person(session: Session, user_id: str, *, locked: bool = False) -> Person:
    """Return the person a SCIM id names, its row locked for a change if locked; NotFoundException if unknown, deleted, erased."""
    person = None
    if user_id.isascii() and user_id.isdigit() and len(user_id) < 10:
        person = lock_person(session, int(user_id)) if locked else session.get(Person, int(user_id))
    if person is None or person.scim_deleted_at is not None or person.erased_at is not None:
        raise NotFoundException(detail=f"User {user_id} not found")
    return person


def create_person(session: Session, fields: UserFields) -> Person:
    """Add a person from a SCIM User, or bring back the one the identity provider deleted with the same email."""
    person = session.scalar(select(Person).where(Person.email == fields.row.email, Person.scim_deleted_at.is_not(None)))
    if person is None:
        person = Person(is_opted_out=False)
    person.scim_deleted_at = None
    return replace_person(session, person, fields)


def replace_person(session: Session, person: Person, fields: UserFields) -> Person:
    """Write a SCIM User's values to a person; deactivation goes the way of an import that deactivates the missing."""
    _check_unique(session, person, fields)
    row = fields.row
    person.email, person.name, person.department, person.level = row.email, row.name, row.department, row.level
    person.scim_user_name, person.external_id = fields.user_name, fields.external_id
    if person.id is None or row.is_active:
        person.is_active = row.is_active
    session.add(person)
    session.flush()
    if not row.is_active and person.is_active:
        deactivate(session, [person.id])
    return person


def _check_unique(session: Session, person: Person, fields: UserFields) -> None:
    others = Person.id != person.id if person.id is not None else True
    if session.scalar(select(Person.id).where(others, Person.email == fields.row.email).limit(1)) is not None:
        raise UniquenessException(detail=f"another person has the email {fields.row.email}")
    taken = (_USER_NAME == fields.user_name.lower()) & Person.scim_deleted_at.is_(None)
    if session.scalar(select(Person.id).where(others, taken).limit(1)) is not None:
        raise UniquenessException(detail=f"another person has the userName {fields.user_name}")


def delete_person(session: Session, person: Person) -> None:
    """Deactivate a person the identity provider deleted and hide them from SCIM; the row and its history stay."""
    deactivate(session, [person.id])
    person.scim_deleted_at = utcnow()
    person.scim_user_name = None
    session.flush()


def list_people(session: Session, filter_text: str | None, start_index: int, count: int) -> tuple[int, list[Person]]:
    """Return the number of matching people and one page of them (1-based start_index), both counted in SQL."""
    conditions = [Person.scim_deleted_at.is_(None), Person.erased_at.is_(None)]
    if filter_text:
        conditions.append(SqlFilter().visit(ScimFilter(filter_text).ast))
    total = session.scalar(select(func.count(Person.id)).where(*conditions))
    if count <= 0:
        return total, []
    query = select(Person).where(*conditions).order_by(Person.id).offset(start_index - 1).limit(min(count, MAX_RESULTS))
    return total, list(session.scalars(query))


_USER_NAME = func.lower(func.coalesce(Person.scim_user_name, Person.email))
#: filterable attributes (lower-case path) -> (SQL expression, kind); text kinds compare lower-case ("ci") or as given
FIELDS = {
    "id": (Person.id, "id"),
    "externalid": (Person.external_id, "exact"),
    "username": (_USER_NAME, "ci"),
    "displayname": (func.lower(Person.name), "ci"),
    "emails": (Person.email, "ci"),
    "emails.value": (Person.email, "ci"),
    "active": (Person.is_active, "bool"),
    "meta.created": (Person.created_at, "time"),
    "meta.lastmodified": (Person.updated_at, "time"),
    "enterprise:department": (func.lower(Person.department), "ci"),
}
ORDERED = {CompareOperator.gt: "__gt__", CompareOperator.ge: "__ge__", CompareOperator.lt: "__lt__", CompareOperator.le: "__le__"}


class SqlFilter(FilterVisitor[ColumnElement[bool]]):
    """Translate a parsed SCIM filter into a SQLAlchemy condition on Person, for the attributes in FIELDS."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def _field(self, path: AttrPath) -> tuple:
        uri = (path.uri or CORE).lower()
        key = ".".join(part.lower() for part in (self.prefix, path.attr, path.sub_attr or "") if part)
        if uri == ENTERPRISE.lower():
            key = f"enterprise:{key}"
        elif uri != CORE.lower():
            key = ""
        if key not in FIELDS:
            supported = "userName, externalId, id, displayName, emails.value, active, meta.created, meta.lastModified, department"
            raise InvalidFilterException(detail=f"filtering on {path} is not supported (use {supported})")
        return FIELDS[key]

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        column, kind = self._field(node.attr_path)
        value, op = _typed(node, kind), node.op
        if kind == "id" and value is None:
            return false() if op == CompareOperator.eq else Person.id.is_not(None)
        if op == CompareOperator.eq:
            return column == value
        if op == CompareOperator.ne:
            return or_(column != value, column.is_(None))
        if kind in ("ci", "exact") and op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            method = {CompareOperator.co: "contains", CompareOperator.sw: "startswith", CompareOperator.ew: "endswith"}[op]
            return getattr(column, method)(value, autoescape=True)
        if kind != "bool" and op in ORDERED:
            return getattr(column, ORDERED[op])(value)
        raise InvalidFilterException(detail=f"{node.attr_path} does not support the operator {op.value}")

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        column, _ = self._field(node.attr_path)
        return column.is_not(None)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        join = and_ if node.op == LogicalOperator.and_ else or_
        return join(*(self.visit(term) for term in node.terms))

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        if node.attr_path.attr.lower() != "emails" or node.attr_path.uri not in (None, CORE):
            raise InvalidFilterException(detail=f"filtering inside {node.attr_path} is not supported (only emails[value ...])")
        return SqlFilter("emails").visit(node.val_filter)


def _typed(node: Comparison, kind: str):
    """Return a comparison's value as its column holds it; raise InvalidFilterException when it cannot be one."""
    value = node.value
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidFilterException(detail=f"{node.attr_path} takes true or false")
        return value
    if not isinstance(value, str):
        raise InvalidFilterException(detail=f"{node.attr_path} takes a string")
    if kind == "id":
        return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None
    if kind == "time":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidFilterException(detail=f"{node.attr_path} takes a date-time such as 2026-01-31T12:00:00Z") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value.lower() if kind == "ci" else value
