from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from prepare.access.policy import is_auditor
from prepare.accounts.middleware import is_verified


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    verified = is_verified(request)
    role = getattr(user, "role", "")
    return {
        "nav": {
            "verified": verified,
            "cases": verified and getattr(user, "reads_cases", False),
            "partnerships": verified and role not in ("",),
            "audit": verified and is_auditor(user),
            # The bell: one count on a partial index, only after the second factor.
            "unread": _unread_notifications(user) if verified else 0,
        }
    }


def _unread_notifications(user: Any) -> int:
    from prepare.notifications.selectors import unread_count

    return unread_count(user)
