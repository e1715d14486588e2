from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from prepare.access.abilities import may_configure_sign_in, may_manage_some_accounts
from prepare.access.policy import is_administrator, is_auditor
from prepare.accounts.middleware import is_verified

# Navigation counts stop here and show as "99+".
NAV_COUNT_CAP = 99


class NavigationCounts:
    """The counts the navigation and dashboards show (unread notifications,
    incoming transfers waiting for a coordinator's decision and,
    on a dashboard that asks for it, signals waiting for acknowledgement), read
    together in one query the first time a template asks for one, and not at
    all on a page that shows none.

    The signals are counted through the policy only when the user has an open
    alert at all (a second query then): most of the time nobody does, and
    building the policy's filter for signals costs more than the count."""

    def __init__(self, user: Any, *, alerts: bool = False) -> None:
        self.user = user
        # Building the policy's filter for the signals costs more than the
        # count: only the pages that show it ask for it.
        self.with_alerts = alerts

    @cached_property
    def _counts(self) -> dict[str, int]:
        from prepare.access.policy import transfers_to_decide
        from prepare.monitoring.selectors import open_alerts_of, owed_alerts
        from prepare.notifications.selectors import unread_of
        from prepare.web import capped_counts

        querysets: dict[str, Any] = {
            "unread": unread_of(self.user),
            # Empty (no SQL) for anyone but a coordinator.
            "transfers": transfers_to_decide(self.user),
        }
        # Only a role that works on cases can owe an acknowledgement (and only
        # then are the grants worth reading).
        if self.with_alerts and getattr(self.user, "reads_cases", False):
            querysets["open_alerts"] = open_alerts_of(actor=self.user)
        counts = capped_counts(NAV_COUNT_CAP, **querysets)
        # The user's own open alerts are only a gate: what is shown is what
        # the policy still lets them read.
        if counts.pop("open_alerts", 0):
            counts.update(capped_counts(NAV_COUNT_CAP, alerts=owed_alerts(actor=self.user)))
        return counts

    @property
    def unread(self) -> int:
        return self._counts["unread"]

    @property
    def transfers(self) -> int:
        """Incoming transfers waiting for the user's decision (a coordinator's)."""
        return self._counts.get("transfers", 0)

    @property
    def alerts(self) -> int:
        return self._counts.get("alerts", 0)


NAV_COUNTS_ATTR = "prepare_navigation_counts"

# The user's own pages, linked from "Your settings" rather than the top bar.
SETTINGS_VIEWS = frozenset(
    f"accounts:{name}"
    for name in (
        "preferences",
        "sign_in_methods",
        "totp_add",
        "passkey_add",
        "totp_remove",
        "passkey_remove",
        "recovery_codes",
        "api_tokens",
        "api_token_revoke",
        "sessions",
        "session_end",
        "password_change",
    )
)
# The installation's sign-in settings, linked from the administration's own navigation.
ADMINISTRATION_VIEWS = frozenset(
    f"accounts:{name}"
    for name in ("identity_providers", "identity_provider_create", "identity_provider_edit")
)


def count_alerts_too(request: HttpRequest) -> None:
    """For a dashboard that shows the signals waiting for the user: they are
    counted with the navigation's counts, in the same query."""
    setattr(request, NAV_COUNTS_ATTR, NavigationCounts(request.user, alerts=True))


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    verified = is_verified(request)
    role = getattr(user, "role", "")
    counts = None
    if verified:
        counts = getattr(request, NAV_COUNTS_ATTR, None) or NavigationCounts(user)
    return {
        "nav": {
            "verified": verified,
            "cases": verified and getattr(user, "reads_cases", False),
            # The administrator belongs to no partnership: administration lists them all.
            "partnerships": verified and role not in ("",) and not is_administrator(user),
            "administration": verified and is_administrator(user),
            "audit": verified and is_auditor(user),
            "staff": verified and may_manage_some_accounts(user),
            "sign_in_settings": verified and may_configure_sign_in(user),
            # Pages reached from "Your settings" (or, for the identity providers,
            # from the administration) mark that link as the current one.
            "settings_views": SETTINGS_VIEWS,
            "administration_views": ADMINISTRATION_VIEWS,
            # The bell and the dashboards' banners: one capped query, only after
            # the second factor.
            "counts": counts,
        }
    }
