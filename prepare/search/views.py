from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from prepare.access.routes import RoutePolicy, route_policy
from prepare.search import selectors
from prepare.search.forms import SearchForm
from prepare.web import INVALID, case_errors, is_htmx_partial, page_number, request_actor


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def search_view(request: HttpRequest) -> HttpResponse:
    """The search page: without ``q`` only the form; with one, a page of results
    (or the form's error, 422, and nothing searched)."""
    form = SearchForm(request.GET if "q" in request.GET else None)
    page = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            page = selectors.search(
                actor=request_actor(request),
                query=form.cleaned_data["q"],
                page=page_number(request.GET.get("page")),
            )
        else:
            status = INVALID
    context = {"form": form, "page": page, "search_query": request.GET.get("q", "")[:200]}
    template = "search/_results.html" if is_htmx_partial(request) else "search/search.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
