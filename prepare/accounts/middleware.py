"""Session rules: second factor on every route, idle and absolute time-outs."""

from __future__ import annotations

import logging
import time
import zoneinfo
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage import default_storage
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_otp.middleware import OTPMiddleware

from prepare.access.routes import RoutePolicy

logger = logging.getLogger(__name__)

SESSION_LAST_SEEN = "prepare_last_seen"
SESSION_SIGNED_IN_AT = "prepare_signed_in_at"
# The user id whose second factor the organisation's identity provider
# asserted at sign-in (``prepare.accounts.sso``): the session counts as verified.
SESSION_MFA_ASSERTED = "prepare_mfa_asserted_for"
# How stale the recorded last activity may be (seconds).
LAST_SEEN_GRAIN = 60

# Marks a resolved route whose view carries no policy (deny by default).
NO_POLICY = ""


def is_verified(request: HttpRequest) -> bool:
    """Whether this session passed the second factor.

    django-otp's middleware gives ``request.user`` an ``is_verified()``; a user
    signed in during this very request is a fresh object that only carries the
    ``otp_device`` that ``django_otp.login`` set on it.
    """
    user = request.user
    if not user.is_authenticated:
        return False
    check = getattr(user, "is_verified", None)
    if callable(check) and check():
        return True
    return getattr(user, "otp_device", None) is not None


class SecondFactorMiddleware(OTPMiddleware):
    """django-otp's middleware, plus one more kind of verified session: one
    signed in through an identity provider that asserted a second factor
    (the provider is configured as asserting it and the ID token's ``amr`` or
    ``acr`` said so). ``user.is_verified()`` is then true as for a device."""

    def _verify_user_sync(self, request: HttpRequest, user: Any) -> Any:
        user = super()._verify_user_sync(request, user)
        if (
            user.is_authenticated
            and user.otp_device is None
            and request.session.get(SESSION_MFA_ASSERTED) == user.pk
        ):
            user.is_verified = lambda: True
        return user


def policy_of_view(view: Any) -> str | None:
    """The ``route_policy`` of a view function, DRF view (``.cls``) or Django
    class-based view (``.view_class``); None if it has none."""
    for candidate in (view, getattr(view, "cls", None), getattr(view, "view_class", None)):
        policy = getattr(candidate, "route_policy", None)
        if policy:
            return str(policy)
    return None


def _policy_of(request: HttpRequest) -> str | None:
    """None for a path no route matches, ``NO_POLICY`` for a route without one."""
    from prepare.web import route_of

    match = route_of(request)
    if match is None:
        return None
    return policy_of_view(match.func) or NO_POLICY


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _to_login(request: HttpRequest) -> HttpResponse:
    """Send a request without a (valid) session to the sign-in page.

    The API answers 401 instead of a redirect; HTMX gets ``HX-Redirect`` so
    that the whole page, not a fragment, goes to the sign-in page.
    """
    if _is_api(request):
        detail = _("Authentication credentials were not provided.")
        response: HttpResponse = JsonResponse({"detail": detail}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    target = reverse(settings.LOGIN_URL)
    back = ""
    if _is_htmx(request):
        # Come back to the page the fragment belonged to, not to the fragment.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = current.path + (f"?{current.query}" if current.query else "")
    elif request.method == "GET":
        back = request.get_full_path()
    if back and back != target:
        target += "?" + urlencode({"next": back})
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)


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
                return self._expire(request, reason="idle" if idle else "absolute")
            # Written at most once a minute: a session write on every request
            # costs a second transaction (and fsync) on every page, and the
            # idle time-out needs no finer grain than the minute.
            if SESSION_LAST_SEEN not in request.session:
                # A session that did not come through the sign-in (which sets
                # both and registers it): start the clock; the registry learns
                # of it at the next tick.
                request.session[SESSION_LAST_SEEN] = now
            elif now - last >= LAST_SEEN_GRAIN:
                from prepare.accounts.credentials import session_seen

                request.session[SESSION_LAST_SEEN] = now
                # The list of sessions shows where and when: same grain.
                session_seen(request)
            if SESSION_SIGNED_IN_AT not in request.session:
                request.session[SESSION_SIGNED_IN_AT] = now
        return self.get_response(request)

    def _expire(self, request: HttpRequest, *, reason: str) -> HttpResponse:
        from prepare.accounts.services import session_end

        session_end(request, reason=reason)
        # This middleware answers before MessageMiddleware has run, so it
        # keeps the message itself and writes it to the response.
        storage = default_storage(request)
        request._messages = storage  # type: ignore[attr-defined]
        messages.info(
            request,
            _("You were signed out after a period of inactivity.")
            if reason == "idle"
            else _("Your session has ended. Please sign in again."),
        )
        response = _to_login(request)
        storage.update(response)
        return response


class RequireVerifiedMiddleware:
    """Deny by default: every route needs a session signed in with a second factor,
    except the public ones and, for enrolment, the second-factor setup pages.
    The API authenticates in the API layer (token or verified session)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        policy = _policy_of(request)
        if policy == NO_POLICY:
            # A route nobody classified is served to no one (AC-01); the
            # route test names it.
            logger.error("Route without route_policy refused: %s", request.path_info[:200])
            raise PermissionDenied
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
        target = reverse("accounts:mfa_setup")
        if _is_htmx(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)


class NoStoreMiddleware:
    """Responses are not stored by browsers or proxies (DP-05): always for a
    signed-in user or the API, and by default for everything else the views
    answer. Static files are served earlier by WhiteNoise and stay cacheable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.user.is_authenticated
            or _is_api(request)
            or not response.has_header("Cache-Control")
        ):
            response["Cache-Control"] = "no-store"
        return response


class UserLocaleMiddleware:
    """A signed-in user's own language and time zone, for the whole request.

    After ``LocaleMiddleware`` (the browser's or the cookie's language, for
    everyone) and the authentication: the user's stored choice wins. The
    user was loaded by the middleware before; this adds no query. API
    requests authenticate by token inside the view: the API applies the
    token user's language there (``prepare.api.base.ApiViewSet``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            activate_user_locale(user)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def activate_user_locale(user: Any) -> None:
    """Activate the user's language and zone (if they chose them) for this thread."""
    language = getattr(user, "language", "")
    if language:
        translation.activate(language)
    zone = getattr(user, "time_zone", "")
    if zone:
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
