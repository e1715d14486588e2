"""django-axes with two limits: per account from one address, and per address.

axes compares one number, the largest count of its parameter groups, with one
limit. PREPARE needs two limits (``AXES_FAILURE_LIMIT`` for one account from
one address, ``LOCKOUT_ADDRESS_FAILURES`` for one address whatever the
accounts), so the handler reports a count that reaches the first limit as soon
as either is reached.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username, get_failure_limit
from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpRequest


def _by_address_only(filter_kwargs: dict[str, Any]) -> bool:
    return set(filter_kwargs) == {"ip_address"}


class LockoutHandler(AxesDatabaseHandler):
    def _groups(
        self, request: HttpRequest, credentials: dict[str, Any] | None, *, recent: bool = True
    ) -> list[tuple[bool, QuerySet[Any]]]:
        """(counts the address alone?, its attempts) per parameter group; only
        those of the cool-off window if ``recent``."""
        parameters = get_client_parameters(
            get_client_username(request, credentials),
            request.axes_ip_address,  # type: ignore[attr-defined]
            request.axes_user_agent,  # type: ignore[attr-defined]
            request,
            credentials,
        )
        if recent:
            attempts = self.get_user_attempts(request, credentials)
        else:
            attempts = self.filter_user_attempts(request, credentials)
        return [
            (_by_address_only(kwargs), queryset)
            for kwargs, queryset in zip(parameters, attempts, strict=True)
        ]

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        account = address = 0
        for address_only, attempts in self._groups(request, credentials):
            count = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            if address_only:
                address = max(address, count)
            else:
                account = max(account, count)
        if address >= settings.LOCKOUT_ADDRESS_FAILURES:
            return max(account, get_failure_limit(request, credentials))
        return account

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        """On success, forget this account's failures from this address only:
        signing in to one's own account must not wipe an address's count of
        failures on other accounts."""
        count = 0
        for address_only, attempts in self._groups(request, credentials, recent=False):
            if not address_only:
                count += attempts.delete()[0]
        return count
