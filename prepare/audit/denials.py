"""Refused access leaves a trace: one ``denied`` event per refused request, capped.

Every answer built from the policy's refusals (``NotVisible`` → 404,
``WriteForbidden`` → 403), on a page or in the API, is *noted* on the request
(``note``) where it is answered: ``prepare.web.case_errors``, the API's
exception handler, and ``AuditedTransactionMiddleware.process_exception`` for
the views that let the exception reach Django's own 403 and 404 pages.

The middleware writes the noted denial (``record``) after the request's own
transaction has committed or rolled back, in a transaction of its own on the
same connection, through the chain like any event: a refused write rolls back
everything it did, but not the record that it was refused. On SQLite the
request's write lock is released by then; no second connection is opened.

A flood must not fill the log: per user, at most ``AUDIT_DENIED_CAP`` denials
are recorded one by one per window of ``AUDIT_DENIED_WINDOW_MINUTES``. The
next one writes one event saying that the cap is reached (naming that
request); the following ones of the window are only counted, in
``DenialWindow``, and one summary event gives their number once the window is
over (written by the user's next denial after it, or by the periodic task
``audit_denials_summarise``). A request that is not refused costs nothing:
the window is read only when there is a denial to record.

Requests without a signed-in user are not recorded here: they never reach a
case view (the sign-in wall answers first), and sign-in attempts have their
own events and lock-out.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest
from django.utils import timezone
from rest_framework import exceptions as api_exceptions

from prepare.access.errors import WriteForbidden
from prepare.audit.models import DenialWindow, EventAction, Outcome
from prepare.audit.services import audit_record

_ATTR = "_prepare_denied"
# The URL parameter that names the case, in the routes of a case.
_CASE_ROUTE = re.compile(r"(?:^|/)cases/<(?:int:)?(pk|case_id)>")


@dataclass(frozen=True)
class Denial:
    """What one refused request asked for: ids and names only."""

    actor: Any
    status: int
    route: str
    method: str
    asked: dict[str, str] = field(default_factory=dict)
    case_id: int | None = None


@dataclass(frozen=True)
class _CaseRef:
    """The case id a refused request named (it may not exist): for the event's case."""

    pk: int


def status_of(exc: BaseException) -> int | None:
    """404 or 403 if ``exc`` is one of the policy's refusals, None otherwise."""
    if isinstance(exc, Http404 | api_exceptions.NotFound):
        return 404
    if isinstance(exc, WriteForbidden | PermissionDenied | api_exceptions.PermissionDenied):
        # The policy's refusal, Django's own 403 page, or the API's permission
        # classes (a role that may not do this at all).
        return 403
    return None


def note(request: HttpRequest | None, exc: BaseException, actor: Any = None) -> None:
    """Remember that ``request`` is answered with a refusal, if ``exc`` is one.

    ``actor`` is the user the answer is for (the API's token user is not on
    the Django request); by default the request's user. Anonymous users and
    answers that are not refusals are ignored; the first refusal of a
    request is the one recorded.
    """
    if request is None or hasattr(request, _ATTR):
        return
    status = status_of(exc)
    if status is None:
        return
    user = actor if actor is not None else getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return
    match = getattr(request, "resolver_match", None)
    if match is None:
        return
    asked = {str(k): str(v)[:64] for k, v in sorted(match.kwargs.items())}
    case_id = None
    found = _CASE_ROUTE.search(str(match.route or ""))
    if found is not None:
        raw = str(match.kwargs.get(found.group(1), ""))
        if raw.isascii() and raw.isdecimal() and 0 < int(raw) < 2**63:
            case_id = int(raw)
    setattr(
        request,
        _ATTR,
        Denial(
            actor=user,
            status=status,
            route=str(match.view_name or "")[:64],
            method=request.method or "",
            asked=asked,
            case_id=case_id,
        ),
    )


def noted(request: HttpRequest) -> Denial | None:
    denial: Denial | None = getattr(request, _ATTR, None)
    return denial


def window_of(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The fixed window ``now`` falls in: [start, end), aligned on the epoch."""
    size = max(1, int(settings.AUDIT_DENIED_WINDOW_MINUTES)) * 60
    start_ts = int(now.timestamp()) // size * size
    start = datetime.datetime.fromtimestamp(start_ts, tz=datetime.UTC)
    return start, start + datetime.timedelta(seconds=size)


def record(request: HttpRequest) -> None:
    """Write the request's noted denial, if any, in a transaction of its own.

    Called by the middleware once the request's transaction is over. A failure
    propagates (the answer becomes a 500): an unlogged refusal is not hidden.
    """
    denial = noted(request)
    if denial is None:
        return
    delattr(request, _ATTR)
    record_denial(denial)


@transaction.atomic
def record_denial(denial: Denial, now: datetime.datetime | None = None) -> str:
    """Record one denial under the user's cap: "recorded", "cap_reached" or
    "suppressed" (counted only)."""
    now = now or timezone.now()
    actor = denial.actor
    _summarise(DenialWindow.objects.filter(user_id=actor.pk, ends_at__lte=now))
    start, end = window_of(now)
    DenialWindow.objects.bulk_create(
        [DenialWindow(user_id=actor.pk, starts_at=start, ends_at=end)], ignore_conflicts=True
    )
    # The row lock serialises one user's concurrent denials (PostgreSQL);
    # SQLite's transactions are serialised anyway.
    window = DenialWindow.objects.select_for_update().get(user_id=actor.pk, starts_at=start)
    cap = max(0, int(settings.AUDIT_DENIED_CAP))
    if window.recorded < cap:
        DenialWindow.objects.filter(pk=window.pk).update(recorded=F("recorded") + 1)
        _write(denial, {})
        return "recorded"
    DenialWindow.objects.filter(pk=window.pk).update(suppressed=F("suppressed") + 1)
    if window.suppressed == 0:
        _write(
            denial,
            {
                "cap_reached": cap,
                "window_minutes": int(settings.AUDIT_DENIED_WINDOW_MINUTES),
                "suppressed_until": end.isoformat(),
            },
        )
        return "cap_reached"
    return "suppressed"


def _write(denial: Denial, extra: dict[str, Any]) -> None:
    audit_record(
        action=EventAction.DENIED,
        actor=denial.actor,
        case=_CaseRef(denial.case_id) if denial.case_id is not None else None,
        # The route and the ids asked for, where the log's pages show them.
        object_type=denial.route,
        object_id=" ".join(f"{k}={v}" for k, v in denial.asked.items())[:64],
        outcome=Outcome.DENIED,
        detail={
            "route": denial.route,
            "method": denial.method,
            "status": denial.status,
            "asked": denial.asked,
            **extra,
        },
    )


def _summarise(windows: Any) -> int:
    """One summary event per ended window whose denials were partly only counted."""
    due = list(
        windows.filter(suppressed__gt=0, summarised=False)
        .select_related("user")
        .order_by("ends_at", "pk")
    )
    for window in due:
        audit_record(
            action=EventAction.DENIED,
            actor=window.user,
            outcome=Outcome.DENIED,
            detail={
                "suppressed": window.suppressed,
                "recorded": window.recorded,
                "window_start": window.starts_at.isoformat(),
                "window_end": window.ends_at.isoformat(),
            },
        )
        DenialWindow.objects.filter(pk=window.pk).update(summarised=True)
    return len(due)


@transaction.atomic
def denials_summarise(now: datetime.datetime | None = None) -> int:
    """Write the summary of every ended window that still owes one; how many.
    Idempotent; run by the worker's scheduler."""
    now = now or timezone.now()
    return _summarise(DenialWindow.objects.select_for_update().filter(ends_at__lte=now))
