"""SCIM 2.0 discovery: what the directory sync supports (ServiceProviderConfig, the User schemas, the User resource type)."""

from scim2_models import EnterpriseUser, Meta, Required, ResourceType, Schema, ServiceProviderConfig, User
from scim2_models.resources.resource_type import SchemaExtension
from scim2_models.resources.service_provider_config import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Filter,
    Patch,
    Sort,
)

from .scim import CORE, ENTERPRISE, MAX_RESULTS, Mapping

#: the attributes each schema publishes (plus the level attribute); a person always has all of them, so they are required
PUBLISHED = {CORE: ("userName", "displayName", "active", "emails"), ENTERPRISE: ("department",)}
EMAIL_PARTS = ("value",)


def service_provider_config(base: str) -> ServiceProviderConfig:
    """What the service supports: PATCH and filters, no bulk, sorting, ETags or password changes; a bearer token."""
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="The token set as SCIM_TOKEN, sent as 'Authorization: Bearer <token>'",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )


def schemas(mapping: Mapping, base: str) -> list[Schema]:
    """The core User and enterprise User schemas, cut to the attributes a person holds; the level takes ladder names."""
    published = []
    for urn, model in ((CORE, User), (ENTERPRISE, EnterpriseUser)):
        schema = model.to_schema()
        names = PUBLISHED[urn] + ((mapping.level_name,) if mapping.level_schema == urn else ())
        schema.attributes = [attribute for attribute in schema.attributes if attribute.name in names]
        for attribute in schema.attributes:
            attribute.required = Required.true
            if attribute.name == "emails":
                attribute.sub_attributes = [part for part in attribute.sub_attributes if part.name in EMAIL_PARTS]
                attribute.sub_attributes[0].required = Required.true
            if attribute.name == mapping.level_name:
                attribute.canonical_values = list(mapping.ladder)
                attribute.description = "The person's level: a name of the ladder or its number (0 = most junior)"
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{urn}")
        published.append(schema)
    return published


def resource_types(base: str) -> list[ResourceType]:
    """The one resource type served: User, with the enterprise extension required (it carries the department)."""
    return [
        ResourceType(
            id="User",
            name="User",
            description="A member of staff in the directory",
            endpoint="/Users",
            schema_=CORE,
            schema_extensions=[SchemaExtension(schema_=ENTERPRISE, required=True)],
            meta=Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/User"),
        )
    ]
