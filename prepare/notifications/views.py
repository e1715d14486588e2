"""Notification pages, the calendar-feed settings and the feed itself."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prepare.access.errors import NotVisible
from prepare.access.routes import RoutePolicy, route_policy
from prepare.notifications import selectors, services
from prepare.notifications.ics import calendar
from prepare.web import page_number, request_actor


def _back_to_list(request: HttpRequest) -> HttpResponse:
    page = page_number(request.POST.get("page"))
    url = reverse("notifications:list")
    return redirect(f"{url}?page={page}" if page > 1 else url)


@route_policy(RoutePolicy.SIGNED_IN)
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    page = selectors.notification_page(actor=actor, page=page_number(request.GET.get("page")))
    return render(request, "notifications/list.html", {"page": page})


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    services.notification_mark_read(actor=request_actor(request), notification_id=pk)
    return _back_to_list(request)


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(actor=request_actor(request))
    if count:
        messages.success(request, _("All notifications are marked as read."))
    return _back_to_list(request)


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def calendar_settings(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    feed_url = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            _token, secret = services.calendar_feed_create(actor=actor)
            feed_url = request.build_absolute_uri(
                reverse("notifications:calendar_feed", args=[secret])
            )
        elif action == "revoke":
            if services.calendar_feed_revoke(actor=actor):
                messages.success(request, _("Your calendar address no longer works."))
            return redirect("notifications:calendar_settings")
        else:
            return HttpResponse(status=400)
    return render(
        request,
        "notifications/calendar_settings.html",
        {"feed": selectors.live_feed(actor), "feed_url": feed_url},
    )


# Calendar clients cannot sign in: the secret in the address is the
# credential. An unknown, revoked or disabled user's address answers 404.
@route_policy(RoutePolicy.PUBLIC)
@require_GET
def calendar_feed(request: HttpRequest, feed_id: uuid.UUID) -> HttpResponse:
    user = selectors.feed_owner(feed_id)
    if user is None:
        raise NotVisible
    dates = selectors.feed_dates(user=user)
    site = request.build_absolute_uri("/").rstrip("/")
    body = calendar(
        selectors.feed_events(dates, site=site),
        name=_("PREPARE key dates"),
        stamp=timezone.now(),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = 'inline; filename="prepare.ics"'
    return response
