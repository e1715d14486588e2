"""What every page view shares: the signed-in actor, HTMX partials, page numbers,
and how the policy's answers and version conflicts become pages.

A case page wraps its view in ``case_errors``: ``NotVisible`` (and any 404)
answers the case-aware 404 page, ``WriteForbidden`` the 403 page, a stale or
missing version the conflict page; an HTMX request gets the same message in
the page's message area instead."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib import messages
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.translation import gettext as _

from prepare.access.errors import WriteForbidden
from prepare.accounts.models import User
from prepare.audit import denials
from prepare.locking import StaleVersion, VersionRequired

# The status of a form sent back with errors; HTMX is configured (base.html)
# to swap it in like a 200.
INVALID = 422
MAX_PAGE = 10_000

View = Callable[..., HttpResponse]


def request_actor(request: HttpRequest) -> User:
    user = request.user
    # RequireVerifiedMiddleware lets only signed-in, second-factor users here.
    assert isinstance(user, User)
    return user


_MATCH_ATTR = "_prepare_route"


def route_of(request: HttpRequest) -> ResolverMatch | None:
    """The route the request's path resolves to (None if none does), resolved
    once for the middleware that ask before Django resolves it for the view."""
    if not hasattr(request, _MATCH_ATTR):
        try:
            match: ResolverMatch | None = resolve(request.path_info)
        except Resolver404:
            match = None
        setattr(request, _MATCH_ATTR, match)
    cached: ResolverMatch | None = getattr(request, _MATCH_ATTR)
    return cached


def is_htmx_partial(request: HttpRequest) -> bool:
    details = getattr(request, "htmx", None)
    if not details:
        return False
    return not details.boosted and not details.history_restore_request


def alert(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """An error for an HTMX request, shown in the page's message area."""
    response = render(request, "includes/alert.html", {"message": message}, status=status)
    response["HX-Retarget"] = "#messages"
    response["HX-Reswap"] = "innerHTML"
    return response


def case_errors(view: View) -> View:
    """403 for a forbidden write, a case-aware 404, for pages and for HTMX."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except WriteForbidden as exc:
            denials.note(request, exc)
            message = str(exc.args[0]) if exc.args else ""
            message = message or _(
                "You can see this case but you are not allowed to make this change."
            )
            if is_htmx_partial(request):
                return alert(request, message, 403)
            return render(request, "cases/403.html", {"message": message}, status=403)
        except Http404 as exc:
            denials.note(request, exc)
            if is_htmx_partial(request):
                message = _("This case does not exist or is not shared with you.")
                return alert(request, message, 404)
            return render(
                request,
                "cases/404.html",
                {
                    "case_pk": kwargs.get("pk"),
                    "offer_break_glass": getattr(request.resolver_match, "url_name", "")
                    != "break_glass",
                },
                status=404,
            )
        except (StaleVersion, VersionRequired) as exc:
            status = 409 if isinstance(exc, StaleVersion) else 428
            if is_htmx_partial(request):
                return alert(request, str(exc.message), status)
            return render(request, "cases/conflict.html", {"message": exc.message}, status=status)

    return wrapped


# --- Caseload -------------------------------------------------------------------


Row = TypeVar("Row")


@dataclass(frozen=True)
class ListPage(Generic[Row]):
    """One page of a list, read without counting the whole table: the page's
    rows and one more (is there a next?), and a count capped at ``COUNT_CAP``."""

    rows: list[Row]
    page: int
    has_next: bool
    count: int
    count_capped: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def list_page(rows: QuerySet[Any], *, page: int, size: int) -> ListPage[Any]:
    """``page`` of the ordered ``rows``: two queries whatever the size. A page
    past the end shows the first."""
    from prepare.cases.selectors import COUNT_CAP

    found = list(rows[(page - 1) * size : page * size + 1])
    if not found and page > 1:
        page = 1
        found = list(rows[: size + 1])
    total = rows.values("pk")[: COUNT_CAP + 1].count()
    return ListPage(
        rows=found[:size],
        page=page,
        has_next=len(found) > size,
        count=min(total, COUNT_CAP),
        count_capped=total > COUNT_CAP,
    )


def page_number(raw: str | None) -> int:
    # isdecimal() alone accepts digits int() refuses, such as "²" or Arabic-Indic ones.
    if raw is None or not (raw.isascii() and raw.isdecimal()):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


def saved(
    request: HttpRequest, message: str, *, section: Callable[[], HttpResponse], then: str
) -> HttpResponse:
    """Confirm a save in words (the message area is announced to screen readers):
    an HTMX request gets the refreshed ``section``, a plain one goes to ``then``."""
    messages.success(request, message)
    if is_htmx_partial(request):
        return section()
    return redirect(then)


def capped_counts(cap: int, **querysets: QuerySet[Any]) -> dict[str, int]:
    """Each queryset's number of rows, counted up to ``cap + 1`` (show "99+"), all
    in one query: the counts a page's navigation shows cost one round trip."""
    counts = dict.fromkeys(querysets, 0)
    parts: list[str] = []
    params: list[Any] = []
    names: list[str] = []
    for name, rows in querysets.items():
        limited = rows.order_by().values("pk")[: cap + 1]
        try:
            sql, sql_params = limited.query.get_compiler(using=rows.db).as_sql()
        except EmptyResultSet:
            continue  # the filter can match nothing (e.g. no grants): 0, no SQL
        # Only the compiler's own SQL goes in; every value stays a parameter.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) counted_{len(names)})")  # noqa: S608
        params.extend(sql_params)
        names.append(name)
    if parts:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            counts.update(zip(names, cursor.fetchone(), strict=True))
    return counts
