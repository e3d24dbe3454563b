"""Partner organizations and their API keys."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import ID, authenticated, current_caller, kindred
from service.api.fields import EmailAddress, StrictSchema, all_optional, boolean, text
from service.api.idempotency import idempotent
from service.domain.credentials import Role
from service.services import organizations as use_cases
from service.services import webhooks

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/api/v1/organizations",
    description="Partner organizations (coordinators create them) and their API keys",
)


class OrganizationCreateSchema(StrictSchema):
    name = text(120, min_length=2, required=True)
    contact_email = EmailAddress(required=True)
    website = fields.URL(
        schemes={"http", "https"}, validate=validate.Length(max=300), allow_none=True
    )
    verified = boolean(load_default=False)


class OrganizationUpdateSchema(OrganizationCreateSchema):
    class Meta(StrictSchema.Meta):
        pass


class OrganizationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    contact_email = fields.String()
    website = fields.String(allow_none=True)
    verified = fields.Boolean()
    created_at = fields.DateTime()


class ApiKeySchema(Schema):
    id = fields.Integer()
    label = fields.String(allow_none=True)
    prefix = fields.String(metadata={"description": "First characters, to tell keys apart"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewApiKeySchema(ApiKeySchema):
    secret = fields.String(metadata={"description": "Shown once; only a hash is kept"})


class NewKeyRequestSchema(StrictSchema):
    label = text(80, allow_none=True)


class OrganizationCreatedSchema(Schema):
    organization = fields.Nested(OrganizationSchema)
    api_key = fields.Nested(NewApiKeySchema)


@blp.post("")
@authenticated(Role.COORDINATOR)
@idempotent
@blp.arguments(OrganizationCreateSchema)
@blp.response(201, OrganizationCreatedSchema)
def create_organization(data):
    """Register a partner organization and issue its first API key (coordinator)."""
    organization, new_key = use_cases.create_organization(kindred().uow(), current_caller(), data)
    return {"organization": organization, "api_key": new_key}


@blp.get("")
@authenticated(Role.COORDINATOR)
@blp.response(200, OrganizationSchema(many=True))
def list_organizations():
    """All partner organizations (coordinator)."""
    return use_cases.list_organizations(kindred().uow(), current_caller())


@blp.get(f"/<{ID}:organization_id>")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@blp.response(200, OrganizationSchema)
def get_organization(organization_id):
    """One organization: a coordinator, or the organization's own key."""
    return use_cases.get_organization(kindred().uow(), current_caller(), organization_id)


@blp.patch(f"/<{ID}:organization_id>")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@blp.arguments(all_optional(OrganizationUpdateSchema))
@blp.response(200, OrganizationSchema)
def update_organization(changes, organization_id):
    """Edit contact details (the organization or a coordinator); only a coordinator verifies."""
    return use_cases.update_organization(
        kindred().uow(), current_caller(), organization_id, changes
    )


@blp.get(f"/<{ID}:organization_id>/keys")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@blp.response(200, ApiKeySchema(many=True))
def list_keys(organization_id):
    """The organization's keys, without their secrets."""
    return use_cases.list_keys(kindred().uow(), current_caller(), organization_id)


@blp.post(f"/<{ID}:organization_id>/keys")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@idempotent
@blp.arguments(NewKeyRequestSchema)
@blp.response(201, NewApiKeySchema)
def issue_key(data, organization_id):
    """Issue another key (for rotation): its secret is in this answer and nowhere else."""
    new_key = use_cases.issue_key(
        kindred().uow(), current_caller(), organization_id, data.get("label")
    )
    return new_key


@blp.delete(f"/<{ID}:organization_id>/keys/<{ID}:key_id>")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@blp.response(204)
def revoke_key(organization_id, key_id):
    """Revoke a key: it stops working at once."""
    use_cases.revoke_key(kindred().uow(), current_caller(), organization_id, key_id)


class WebhookRequestSchema(StrictSchema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=10, max=500),
        metadata={"description": "An https:// URL on the public internet"},
    )


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    active = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class NewWebhookSchema(Schema):
    webhook = fields.Nested(WebhookSchema)
    secret = fields.String(
        metadata={"description": "whsec_...: verifies the webhook-signature header. Shown once."}
    )


@blp.post(f"/<{ID}:organization_id>/webhooks")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@idempotent
@blp.arguments(WebhookRequestSchema)
@blp.response(201, NewWebhookSchema)
def register_webhook(data, organization_id):
    """Receive signed events about your listings (Standard Webhooks). The URL must be https and
    resolve to public addresses only; the signing secret is in this answer and nowhere else."""
    created = webhooks.register(
        kindred().uow(),
        current_caller(),
        organization_id,
        data["url"],
        kindred().settings.webhook_allow_private,
    )
    return {"webhook": created.endpoint, "secret": created.secret}


@blp.get(f"/<{ID}:organization_id>/webhooks")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@blp.response(200, WebhookSchema(many=True))
def list_webhooks(organization_id):
    """Your webhook endpoints, without their secrets."""
    return webhooks.endpoints(kindred().uow(), current_caller(), organization_id)


@blp.delete(f"/<{ID}:organization_id>/webhooks/<{ID}:webhook_id>")
@authenticated(Role.COORDINATOR, Role.PARTNER)
@blp.response(204)
def remove_webhook(organization_id, webhook_id):
    """Stop sending to this endpoint."""
    webhooks.remove(kindred().uow(), current_caller(), organization_id, webhook_id)
