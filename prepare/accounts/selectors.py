"""Reads of a person's own credentials: their sessions and API tokens."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from prepare.accounts.addresses import device_label
from prepare.accounts.credentials import idle_horizon, live_digests
from prepare.accounts.models import ApiToken, RevokedBecause, SignedInSession


@dataclass(frozen=True)
class SessionLine:
    id: int
    device: str
    network: str
    started: datetime.datetime
    last_seen: datetime.datetime
    current: bool


def sessions_of(*, user_id: int, current_key: str | None) -> list[SessionLine]:
    """The user's sessions that still work: in the store, unexpired, not idle
    past the time-out. Most recent first; two queries whatever their number."""
    live = live_digests(user_id)
    current = SignedInSession.digest_of(current_key) if current_key else ""
    rows = SignedInSession.objects.filter(
        user_id=user_id, key_digest__in=list(live), last_seen_at__gte=idle_horizon()
    ).order_by("-last_seen_at", "-pk")
    return [
        SessionLine(
            id=row.pk,
            device=device_label(row.browser, row.system),
            network=row.network,
            started=row.created_at,
            last_seen=row.last_seen_at,
            current=row.key_digest == current,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class TokenLine:
    id: int
    name: str
    prefix: str
    created: datetime.datetime
    expires: datetime.datetime
    idle_until: datetime.datetime
    last_used: datetime.datetime | None
    refusal: str | None  # None while it works: "revoked", "expired", "idle"
    revoked_because: str

    @property
    def works(self) -> bool:
        return self.refusal is None


def tokens_of(*, user_id: int) -> list[TokenLine]:
    now = timezone.now()
    lines = []
    for token in ApiToken.objects.filter(user_id=user_id).order_by("-created_at", "-pk"):
        because = token.revoked_because
        lines.append(
            TokenLine(
                id=token.pk,
                name=token.name,
                prefix=token.prefix,
                created=token.created_at,
                expires=token.expires_at,
                idle_until=token.idle_until(),
                last_used=token.last_used_at,
                refusal=token.refusal(now),
                revoked_because=str(RevokedBecause(because).label) if because else "",
            )
        )
    return lines
