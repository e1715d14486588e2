"""API authentication: personal tokens, or a session signed in with a second factor."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from prepare.accounts.models import ApiToken


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer prp_…``; only the token's digest is stored."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            return None
        # A token of a user whose organisation was deactivated is refused even
        # if its revocation has not happened (the same rule as sessions').
        token = (
            ApiToken.objects.select_related("user")
            .filter(digest=ApiToken.digest_of(parts[1]), revoked_at__isnull=True)
            .filter(Q(user__organisation__isnull=True) | Q(user__organisation__is_active=True))
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The browser session, only once it has passed the second factor."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        user = getattr(request._request, "user", None)
        # The session's user was loaded by ActiveOrganisationBackend, which
        # refuses the users of a deactivated organisation: they arrive anonymous.
        if not user or not user.is_active or not user.is_authenticated:
            return None
        if not getattr(user, "is_verified", lambda: False)():
            return None
        self.enforce_csrf(request)
        return user, None
