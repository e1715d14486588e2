"""Session rules: second factor on every route, idle and absolute time-outs."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from prepare.access.routes import RoutePolicy

SESSION_LAST_SEEN = "prepare_last_seen"
SESSION_SIGNED_IN_AT = "prepare_signed_in_at"


def is_verified(request: HttpRequest) -> bool:
    """Whether this session passed the second factor (set by django-otp)."""
    user = request.user
    return bool(user.is_authenticated and getattr(user, "is_verified", lambda: False)())


def _policy_of(request: HttpRequest) -> str | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    func = match.func
    return getattr(func, "route_policy", None) or getattr(
        getattr(func, "cls", None), "route_policy", None
    )


class SessionTimeoutMiddleware:
    """Ends a session after ``SESSION_IDLE_TIMEOUT`` idle seconds or
    ``SESSION_ABSOLUTE_TIMEOUT`` seconds after sign-in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last = request.session.get(SESSION_LAST_SEEN, now)
            started = request.session.get(SESSION_SIGNED_IN_AT, now)
            idle = now - last > settings.SESSION_IDLE_TIMEOUT
            too_old = now - started > settings.SESSION_ABSOLUTE_TIMEOUT
            if idle or too_old:
                from prepare.accounts.services import session_end

                session_end(request, reason="idle" if idle else "absolute")
                messages.info(
                    request,
                    _("You were signed out after a period of inactivity.")
                    if idle
                    else _("Your session has ended. Please sign in again."),
                )
                return _to_login(request)
            request.session[SESSION_LAST_SEEN] = now
            request.session.setdefault(SESSION_SIGNED_IN_AT, now)
        return self.get_response(request)


def _to_login(request: HttpRequest) -> HttpResponse:
    target = reverse(settings.LOGIN_URL)
    if request.method == "GET" and not request.path.startswith("/api/"):
        target += "?" + urlencode({"next": request.get_full_path()})
    if getattr(request, "htmx", False) or request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)


class RequireVerifiedMiddleware:
    """Deny by default: every route needs a session signed in with a second factor,
    except the public ones and, for enrolment, the second-factor setup pages.
    The API authenticates in the API layer (token or verified session)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        policy = _policy_of(request)
        if policy in (RoutePolicy.PUBLIC, RoutePolicy.API):
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated:
            return _to_login(request)
        if is_verified(request):
            return self.get_response(request)
        if policy == RoutePolicy.ENROLMENT:
            return self.get_response(request)
        if policy is None:
            # Unknown path: let Django answer 404 without revealing more.
            return self.get_response(request)
        return HttpResponseRedirect(reverse("accounts:mfa_setup"))


class NoStoreMiddleware:
    """Pages of a signed-in user are never stored by browsers or proxies."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated or request.path.startswith("/api/"):
            response["Cache-Control"] = "no-store"
        return response
