"""The home page: where each role lands after signing in, and on "/".

Which home a role has is a rule of the access layer (``home_for``); this view
only renders or redirects to it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from prepare.access.abilities import Home, home_for
from prepare.access.routes import RoutePolicy, route_policy
from prepare.home.selectors import today_for
from prepare.web import case_errors, request_actor


# CASE: for those who work on cases it lists case data, through the policy.
@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def home_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    match home_for(actor):
        case Home.TODAY:
            return render(request, "home/today.html", {"page": today_for(actor=actor)})
        case Home.DATA_PROTECTION:
            # The audit log is the data-protection officer's work; the erasure
            # requests and legal holds are one click away in the navigation.
            return redirect("audit:search")
        case Home.ADMINISTRATION:
            # What is still missing before the installation is usable.
            return redirect("administration:home")
    return render(request, "home/introduction.html", {"role": actor.get_role_display()})
