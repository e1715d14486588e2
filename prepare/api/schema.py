"""How the OpenAPI schema describes PREPARE's two ways to authenticate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from rest_framework.permissions import BasePermission


class SchemaReader(BasePermission):
    """The schema and its documentation page: for a signed-in caller (a token
    or a verified session), or for anyone if ``PREPARE_PUBLIC_API_SCHEMA``."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if settings.PUBLIC_API_SCHEMA:
            return True
        return bool(request.user and request.user.is_authenticated)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "prepare.accounts.api_auth.ApiTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "prp_…",
            "description": "A personal API token, created on the API tokens page of your "
            "account and sent as `Authorization: Bearer prp_…`. It acts with its owner's "
            "rights.",
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "prepare.accounts.api_auth.VerifiedSessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The browser session, once signed in with the second factor. "
            "Unsafe methods also need the CSRF token header.",
        }


class StrictSerializerScheme(OpenApiSerializerExtension):
    """A request body of a ``StrictSerializer`` is documented as it is checked:
    no property beyond the declared ones (they answer 400), and the version a
    change is based on as required where the serializer has one (without it,
    or the If-Match header, the change answers 428)."""

    target_class = "prepare.api.base.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
            fields = getattr(self.target, "fields", {})
            version = fields.get("version")
            if version is not None and not version.read_only:
                required = schema.setdefault("required", [])
                if "version" not in required:
                    required.append("version")
            one_of = getattr(self.target, "required_one_of", ())
            if one_of:
                schema["anyOf"] = [{"required": [name]} for name in one_of]
        return schema
