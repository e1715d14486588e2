from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from prepare.audit.context import RequestContext, new_request_id, reset_context, set_context


class RequestContextMiddleware:
    """Gives each request an id and records its source address for the audit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        # REMOTE_ADDR is the proxy's address behind a proxy; a deployment that
        # wants the client's address sets it from X-Forwarded-For at the proxy.
        ip = request.META.get("REMOTE_ADDR") or None
        token = set_context(RequestContext(request_id=request_id, source_ip=ip))
        try:
            response = self.get_response(request)
        finally:
            reset_context(token)
        response["X-Request-ID"] = request_id
        return response
