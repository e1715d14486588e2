"""Interactive API documentation: Swagger UI served by the app itself.

The assets come from drf-spectacular-sidecar through our static files (no
CDN), and the page holds no inline script or style (the CSP allows neither):
its start-up script is a separate same-origin request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpResponse, HttpResponseRedirect
from django.template import Context, Engine
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from prepare.access.routes import RoutePolicy

_ENGINE = Engine(dirs=[str(Path(__file__).resolve().parent / "templates")])


def _swagger_settings() -> dict[str, Any]:
    configured = spectacular_settings.SWAGGER_UI_SETTINGS
    base = dict(configured) if isinstance(configured, dict) else {}
    # Swagger UI would otherwise send the schema to validator.swagger.io.
    return {**base, "validatorUrl": None}


class SwaggerDocsView(SpectacularSwaggerSplitView):
    route_policy = RoutePolicy.API

    def handle_exception(self, exc: Exception) -> Any:
        # A person who is not signed in at all is sent to the sign-in page and
        # back; a token without rights or a password-only session gets the 401.
        # (DRF has replaced the request's user by then: ask the session.)
        session = getattr(self.request._request, "session", {})
        if isinstance(exc, NotAuthenticated) and SESSION_KEY not in session:
            target = reverse(settings.LOGIN_URL) + "?" + urlencode({"next": self.request.path})
            return HttpResponseRedirect(target)
        return super().handle_exception(exc)

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("script") is not None:
            response = Response(
                data={
                    "schema_url": self._get_schema_url(request),
                    "settings": self._dump(_swagger_settings()),
                    "oauth2_config": "",
                    "csrf_header_name": self._get_csrf_header_name(),
                    "schema_auth_names": self._dump([]),
                },
                template_name=self.template_name_js,
                content_type="application/javascript",
            )
            # The script carries the CSRF token: no other site may load it.
            response["Cross-Origin-Resource-Policy"] = "same-origin"
            return response
        html = _ENGINE.get_template("api/swagger_ui.html").render(
            Context(
                {
                    "language": get_language() or "en",
                    "title": _("PREPARE API"),
                    "heading": _("PREPARE API documentation"),
                    "noscript": _("The interactive documentation needs JavaScript."),
                    "schema_link": _("Download the OpenAPI schema instead."),
                    "schema_url": self._get_schema_url(request),
                    "swagger_ui_css": self._swagger_ui_resource("swagger-ui.css"),
                    "swagger_ui_bundle": self._swagger_ui_resource("swagger-ui-bundle.js"),
                    "swagger_ui_standalone": self._swagger_ui_resource(
                        "swagger-ui-standalone-preset.js"
                    ),
                    "favicon_href": self._swagger_ui_favicon(),
                    "script_url": replace_query_param(request.path, "script", ""),
                }
            )
        )
        return HttpResponse(html, content_type="text/html; charset=utf-8")
