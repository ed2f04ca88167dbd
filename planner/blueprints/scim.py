"""SCIM 2.0 for an identity provider: /scim/v2 Users and discovery, behind a bearer token (no cookies, so no CSRF)."""

import hmac
import json
from datetime import timedelta
from functools import lru_cache

from flask import Blueprint, Response, current_app, request
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    NotImplementedException,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
    UnauthorizedException,
    UniquenessException,
)
from sqlalchemy.exc import IntegrityError

from ..extensions import csrf, db
from ..models import utcnow
from ..services import audit
from ..services.accounts import recent_failures, record_failure
from ..services.scim import (
    POLICY,
    Mapping,
    ScimUser,
    create_person,
    delete_person,
    find_person,
    list_people,
    read_user,
    replace_person,
    to_user,
)
from ..services.scim_discovery import resource_types, schemas, service_provider_config

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
csrf.exempt(bp)
SCIM_JSON = "application/scim+json"
DEFAULT_COUNT = 100
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
#: the email column of a failed login that was a wrong SCIM bearer token (no "@": never an organiser's address)
TOKEN_FAILURE = "scim"


@bp.record_once
def check_settings(state) -> None:
    """Refuse to start with SCIM on and a SCIM_LEVEL_ATTRIBUTE that cannot carry a level."""
    if state.app.config["SCIM_TOKEN"]:
        _mapping_for(state.app.config["SCIM_LEVEL_ATTRIBUTE"], tuple(state.app.config["LEVELS"]))


@bp.before_request
def require_token():
    """No SCIM_TOKEN configured: the service is off (404); otherwise the request must carry it as a bearer token.

    Wrong tokens count as failed logins from the client's address; after SCIM_MAX_FAILURES within the login window the
    address gets 429, even with the right token, until the window has passed.
    """
    config = current_app.config
    token = config["SCIM_TOKEN"]
    if not token:
        return _error(NotFoundException(detail="SCIM is not enabled on this installation"))
    now, window = utcnow(), timedelta(minutes=config["LOGIN_WINDOW_MINUTES"])
    failures, _ = recent_failures(db.session, TOKEN_FAILURE, request.remote_addr, now - window)
    if failures >= config["SCIM_MAX_FAILURES"]:
        seconds = int(window.total_seconds())
        response = _error(_TooManyRequests(detail=f"too many wrong bearer tokens from this address: wait {seconds} seconds"))
        response.headers["Retry-After"] = str(seconds)
        return response
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        record_failure(db.session, TOKEN_FAILURE, request.remote_addr, now, window)
        db.session.commit()
        response = _error(UnauthorizedException(detail="A valid bearer token is needed"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="scim"'
        return response
    return None


@bp.errorhandler(SCIMException)
def scim_error(error: SCIMException):
    db.session.rollback()
    return _error(error)


@bp.errorhandler(IntegrityError)
def conflict(error: IntegrityError):
    db.session.rollback()
    return _error(UniquenessException(detail="another person has this email or userName"))


@bp.get("/Users")
def users():
    return _list(request.args.get("filter"), _number("startIndex", 1), _number("count", DEFAULT_COUNT), _params())


@bp.post("/Users/.search")
def search():
    found = _parse(SearchRequest, Context.SEARCH_REQUEST)
    return _list(found.filter, found.start_index or 1, DEFAULT_COUNT if found.count is None else found.count, found)


@bp.post("/Users")
def create():
    user = _parse(ScimUser, Context.RESOURCE_CREATION_REQUEST)
    person = create_person(db.session, read_user(user, _mapping()))
    _audited("scim.create", person)
    db.session.commit()
    response = _resource(person, Context.RESOURCE_CREATION_RESPONSE, 201)
    response.headers["Location"] = _location(person.id)
    return response


@bp.get("/Users/<user_id>")
def show(user_id: str):
    return _resource(find_person(db.session, user_id), Context.RESOURCE_QUERY_RESPONSE, params=_params())


@bp.put("/Users/<user_id>")
def replace(user_id: str):
    """Replace the User; its row stays locked until the commit, so a concurrent PUT or PATCH waits and reads the result."""
    person = find_person(db.session, user_id, locked=True)
    return _stored(person, _parse(ScimUser, Context.RESOURCE_REPLACEMENT_REQUEST), Context.RESOURCE_REPLACEMENT_RESPONSE)


@bp.patch("/Users/<user_id>")
def patch(user_id: str):
    """Apply the operations to the User as it stands (scim2-models; its row locked as for PUT), then store it as a PUT would."""
    person = find_person(db.session, user_id, locked=True)
    operations = _parse(PatchOp[ScimUser], Context.RESOURCE_PATCH_REQUEST)
    user = to_user(person, _mapping(), _location(person.id))
    operations.patch(user, POLICY)
    return _stored(person, user, Context.RESOURCE_PATCH_RESPONSE)


@bp.delete("/Users/<user_id>")
def delete(user_id: str):
    """Deleting deactivates: the person stays in the directory (inactive, with their history), hidden from SCIM."""
    person = find_person(db.session, user_id, locked=True)
    delete_person(db.session, person)
    _audited("scim.delete", person)
    db.session.commit()
    return Response(status=204)


def _stored(person, user: ScimUser, context: Context):
    """Store a User over the person (what PUT and PATCH end with), record it, and answer with the stored person."""
    replace_person(db.session, person, read_user(user, _mapping(), person))
    _audited("scim.update", person)
    db.session.commit()
    return _resource(person, context)


def _audited(action: str, person) -> None:
    """Record a change the identity provider made, naming the person by id only."""
    state = "active" if person.is_active else "inactive"
    audit.record(db.session, action, actor=audit.SCIM, subject=("person", person.id), summary=f"person {person.id}, {state}",
                 remote_addr=request.remote_addr)


@bp.route("/ServiceProviderConfig", methods=ANY_METHOD)
def config():
    _only_get()
    return _json(service_provider_config(_base()).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.route("/Schemas", methods=ANY_METHOD)
@bp.route("/Schemas/<schema_id>", methods=ANY_METHOD)
def schema_list(schema_id: str | None = None):
    _only_get()
    return _discovery(schemas(_mapping(), _base()), schema_id, Schema)


@bp.route("/ResourceTypes", methods=ANY_METHOD)
@bp.route("/ResourceTypes/<type_id>", methods=ANY_METHOD)
def resource_type_list(type_id: str | None = None):
    _only_get()
    return _discovery(resource_types(_base()), type_id, ResourceType)


@bp.post("/.search")
def search_all():
    raise NotImplementedException(detail="search one resource type at a time: POST /scim/v2/Users/.search")


@bp.route("/<path:rest>", methods=ANY_METHOD)
def unknown(rest: str):
    raise NotFoundException(detail=f"no SCIM endpoint at /{rest}")


def _list(filter_text: str | None, start_index: int, count: int, page: ResponseParameters) -> Response:
    start_index = max(start_index, 1)
    total, people = list_people(db.session, filter_text, start_index, count)
    mapping = _mapping()
    found = ListResponse[ScimUser](
        total_results=total,
        start_index=start_index,
        items_per_page=len(people),
        resources=[to_user(person, mapping, _location(person.id)) for person in people],
    )
    return _json(found.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=page))


def _discovery(items: list, item_id: str | None, kind: type) -> Response:
    if item_id is None:
        found = ListResponse[kind](total_results=len(items), start_index=1, items_per_page=len(items), resources=items)
        return _json(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    for item in items:
        if item.id == item_id:
            return _json(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise NotFoundException(detail=f"no {kind.__name__} {item_id}")


def _resource(person, context: Context, status: int = 200, params: ResponseParameters | None = None) -> Response:
    user = to_user(person, _mapping(), _location(person.id))
    return _json(user.model_dump(scim_ctx=context, response_parameters=params), status)


def _params() -> ResponseParameters:
    return ResponseParameters.model_validate(
        {"attributes": request.args.get("attributes"), "excludedAttributes": request.args.get("excludedAttributes")}
    )


def _parse(model, context: Context):
    """Read the request body as a scim2-models object; raise the SCIM error for bad JSON or bad values."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise InvalidSyntaxException(detail="the body is not a JSON object")
    try:
        return model.model_validate(body, scim_ctx=context, scim_policy=POLICY)
    except ValidationError as error:
        raise InvalidValueException(detail=_readable(error)) from None


def _readable(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}" for item in error.errors())


def _number(name: str, default: int) -> int:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidValueException(detail=f"{name} must be a whole number") from None


def _only_get() -> None:
    if request.method != "GET":
        raise _MethodNotAllowed(detail=f"{request.method} is not allowed here; this endpoint is read-only")


class _MethodNotAllowed(SCIMException):
    status = 405


class _TooManyRequests(SCIMException):
    status = 429


@lru_cache(maxsize=8)
def _mapping_for(attribute: str, ladder: tuple[str, ...]) -> Mapping:
    return Mapping.from_config(attribute, list(ladder))


def _mapping() -> Mapping:
    return _mapping_for(current_app.config["SCIM_LEVEL_ATTRIBUTE"], tuple(current_app.config["LEVELS"]))


def _base() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix


def _location(person_id: int) -> str:
    return f"{_base()}/Users/{person_id}"


def _error(error: SCIMException) -> Response:
    body: Error = error.to_error()
    return _json(body.model_dump(), error.status)


def _json(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, mimetype=SCIM_JSON)
