"""Sign-in and sessions refuse the users of a deactivated organisation.

Django asks the authentication backend twice: at sign-in
(``user_can_authenticate``) and on every request of a session (``get_user``).
Both refuse a user whose organisation is inactive, so that deactivating an
organisation ends its people's sessions on their very next request, without
a look-up of the sessions themselves. The API's token authentication applies
the same rule (``prepare.accounts.api_auth``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q

from prepare.accounts.models import User

# A user without an organisation (the installation's administrator) is not refused.
IN_ACTIVE_ORGANISATION = Q(organisation__isnull=True) | Q(organisation__is_active=True)


def organisation_active(user: Any) -> bool:
    """Whether the user's organisation (if any) is active. One query when the
    organisation was not read with the user."""
    if getattr(user, "organisation_id", None) is None:
        return True
    return bool(user.organisation.is_active)


class ActiveOrganisationBackend(ModelBackend):
    """``ModelBackend``, refusing inactive users and users of inactive organisations."""

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and organisation_active(user)

    def get_user(self, user_id: Any) -> User | None:
        # One query, as ModelBackend's: the organisation's flag is joined, not
        # fetched (``select_related`` would change what later pages query).
        user = User._default_manager.filter(IN_ACTIVE_ORGANISATION, pk=user_id).first()
        return user if user is not None and user.is_active else None


BACKEND = f"{ActiveOrganisationBackend.__module__}.{ActiveOrganisationBackend.__qualname__}"
