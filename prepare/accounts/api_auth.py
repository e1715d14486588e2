"""API authentication: personal tokens, or a session signed in with a second factor."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from prepare.access.policy import membership_annotations, membership_refusal
from prepare.accounts.middleware import LAST_SEEN_GRAIN
from prepare.accounts.models import ApiToken

# What a refused token is told: enough for its holder to know what to do.
REFUSALS = {
    "unknown": _("Invalid token."),
    "revoked": _("This token was revoked. Create a new one on your API tokens page."),
    "expired": _("This token has expired. Create a new one on your API tokens page."),
    "idle": _(
        "This token expired because it was not used for too long. Create a new one on "
        "your API tokens page."
    ),
    "inactive": _("This account is deactivated."),
    "organisation_inactive": _("Your organisation is deactivated; its tokens are refused."),
    "no_membership": _(
        "Your organisation is no longer a member of any partnership; its tokens are refused."
    ),
}


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
            ApiToken.objects.select_related("user__organisation")
            .annotate(**membership_annotations("user__organisation_id"))
            .filter(digest=ApiToken.digest_of(parts[1]))
            .first()
        )
        now = timezone.now()
        refusal = "unknown" if token is None else self._refusal(token, now)
        if refusal is not None:
            raise exceptions.AuthenticationFailed(REFUSALS[refusal], code=f"token_{refusal}")
        assert token is not None
        # Recorded at most once a minute: no write (and no commit) per request.
        grain = datetime.timedelta(seconds=LAST_SEEN_GRAIN)
        if token.last_used_at is None or now - token.last_used_at >= grain:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    @staticmethod
    def _refusal(token: ApiToken, now: datetime.datetime) -> str | None:
        """Checked on every request, so that a revocation holds on the next one."""
        refusal = token.refusal(now)
        if refusal is not None:
            return refusal
        if not token.user.is_active:
            return "inactive"
        return membership_refusal(
            token.user,
            is_member=token.organisation_is_member,  # type: ignore[attr-defined]
            coordinates=token.organisation_coordinates,  # type: ignore[attr-defined]
        )

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
