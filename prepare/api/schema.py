"""How the OpenAPI schema describes PREPARE's two ways to authenticate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
