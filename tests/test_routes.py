"""AC-01, DP-05, DP-07 over every route the URL resolver knows.

The walker is generic: it follows ``include()``s, namespaces, DRF routers
(regex patterns, format suffixes) and class-based views, and fills each
captured parameter with a dummy value (ints are 1). A route added anywhere is
covered the moment it is in the URLconf, with no list to update here, except
for the two deliberate exceptions below (public and enrolment routes), which
must be reviewed when they change.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter, UUIDConverter
from django.urls.resolvers import LocalePrefixPattern, RoutePattern
from django.utils.regex_helper import normalize

from prepare.access.routes import RoutePolicy
from prepare.accounts.middleware import policy_of_view
from prepare.audit.models import Event
from tests.accounts.conftest import post_sign_in
from tests.cast import verified_client
from tests.factories import UserFactory

# Routes anyone may reach. Adding one is a security decision: review it.
PUBLIC_ROUTES = {
    "accounts:login",
    # The second sign-in step: nobody is signed in yet; it serves only a
    # session holding a user whose password was right minutes ago.
    "accounts:second_factor",
    "accounts:csp_report",
    "health",
    "set_language",
    # Calendar clients cannot sign in: the secret random UUID in the address is
    # the credential (only its digest is stored; revocable; unknown, revoked
    # or disabled -> 404), the answer goes through the policy and is audited.
    "notifications:calendar_feed",
    # The enrolment link: the random token in the address is the credential
    # (only its keyed digest is stored; one use; expires; an unknown or
    # malformed token answers one 404 page), for a person with no account yet.
    "accounts:enrol",
    # Single sign-on: asking for the organisation, the provider's return (its
    # state, nonce and token are checked there) and the authentication code
    # after it. None of them signs anyone in without the provider's checked
    # ID token and, unless the provider asserted it, the second factor.
    "accounts:sso_start",
    "accounts:sso_callback",
}
# Routes a password-only session may reach: enrolment and the way out.
ENROLMENT_ROUTES = {"accounts:mfa_setup", "accounts:logout"}

DUMMIES = ("1", "1000", "x", "00000000-0000-0000-0000-000000000001")
ID_PARAM = re.compile(r"^(pk|id|.+_pk|.+_id)$")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    pattern: str  # as written, e.g. "cases/<int:pk>/"
    name: str  # "namespace:name", or the pattern if unnamed
    view: Callable[..., Any]
    url: str | None  # a concrete URL resolving to ``view``, or None
    params: dict[str, Any]  # parameter name -> converter (or None for regex)

    @property
    def policy(self) -> str | None:
        return policy_of_view(self.view)

    def __str__(self) -> str:
        return f"/{self.pattern} ({self.name})"


def _fill(regex: re.Pattern[str], whole: bool) -> str | None:
    """A string the pattern matches, with dummy values for its parameters."""
    for template, params in normalize(regex.pattern):
        choices = [("json", *DUMMIES) if p == "format" else DUMMIES for p in params]
        for values in itertools.product(*choices):
            candidate = template % dict(zip(params, values, strict=True))
            match = regex.match(candidate)
            if match and (not whole or match.end() == len(candidate)):
                return candidate
    return None


def _walk(
    patterns: Sequence[URLPattern | URLResolver],
    parents: tuple[URLResolver, ...] = (),
) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, (*parents, entry))
            continue
        chain = (*parents, entry)
        pieces: list[str | None] = []
        params: dict[str, Any] = {}
        for part in chain:
            pattern = part.pattern
            if isinstance(pattern, LocalePrefixPattern):
                pieces.append(pattern.language_prefix)
                continue
            pieces.append(_fill(pattern.regex, whole=part is entry))
            if isinstance(pattern, RoutePattern):
                params.update(pattern.converters)
            else:
                params.update(dict.fromkeys(pattern.regex.groupindex))
        url = None if None in pieces else "/" + "".join(p for p in pieces if p)
        namespace = ":".join(r.namespace for r in parents if r.namespace)
        written = "".join(str(part.pattern) for part in chain)
        name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
        yield Route(written, name or written, entry.callback, url, params)


def all_routes(urlconf: str | None = None) -> list[Route]:
    return list(_walk(get_resolver(urlconf).url_patterns))


def _resolves(route: Route, urlconf: str | None = None) -> bool:
    return route.url is not None and resolve(route.url, urlconf).func is route.view


# --- The walker itself ----------------------------------------------------------


def test_the_walker_handles_routers_class_views_regexes_and_namespaces():
    urlconf = "tests.accounts.walker_urls"
    found = all_routes(urlconf)
    routes = {r.name: r for r in found}
    by_pattern = {r.pattern: r for r in found}
    assert len(found) == 7  # list, detail, their two format variants, three inner routes
    assert by_pattern["api/^things/$"].url == "/api/things/"
    assert by_pattern["api/^things/(?P<pk>[^/.]+)/$"].url == "/api/things/1/"
    assert by_pattern["api/^things\\.(?P<format>[a-z0-9]+)/?$"].url == "/api/things.json"
    assert routes["inner:plain"].url == "/outer/plain/1/"
    assert routes["inner:by_uuid"].url == "/outer/by-uuid/00000000-0000-0000-0000-000000000001/"
    assert routes["inner:forgotten"].url == "/outer/archive/1000/"
    assert all(_resolves(r, urlconf) for r in found)
    missing = {r.name for r in found if r.policy is None}
    assert missing == {"inner:forgotten"}
    assert routes["things:thing-detail"].policy == RoutePolicy.API  # via .cls
    assert routes["inner:plain"].policy == RoutePolicy.SIGNED_IN  # via .view_class


ROUTES = all_routes()


def test_the_walker_sees_the_project():
    names = {r.name for r in ROUTES}
    assert {"accounts:login", "accounts:api_token_revoke", "health", "cases:caseload"} <= names
    unresolvable = [str(r) for r in ROUTES if not _resolves(r)]
    assert unresolvable == [], "the walker could not build a URL for these routes"


# --- AC-01: a policy on every route, deny by default -----------------------------


def test_every_route_has_a_route_policy():
    valid = set(RoutePolicy.values)
    missing = [str(r) for r in ROUTES if r.policy is None]
    unknown = [f"{r} -> {r.policy!r}" for r in ROUTES if r.policy and r.policy not in valid]
    assert missing == [], "routes without @route_policy(...):\n" + "\n".join(missing)
    assert unknown == [], "routes with an unknown policy:\n" + "\n".join(unknown)


def test_public_and_enrolment_routes_are_the_reviewed_ones():
    public = {r.name for r in ROUTES if r.policy == RoutePolicy.PUBLIC}
    enrolment = {r.name for r in ROUTES if r.policy == RoutePolicy.ENROLMENT}
    assert public == PUBLIC_ROUTES
    assert enrolment == ENROLMENT_ROUTES


def _refused(response, *, to: str) -> bool:
    if response.status_code in (401, 403):
        return True
    location = response.get("Location", "") or response.get("HX-Redirect", "")
    return response.status_code in (302, 204) and location.split("?")[0] == to


def _walk_as(client: Client, routes: list[Route], *, to: str) -> list[str]:
    failures = []
    for route in routes:
        methods = ("GET", *UNSAFE_METHODS) if route.policy == RoutePolicy.API else ("GET", "POST")
        for method in methods:
            for htmx in (False, True):
                headers = {"HX-Request": "true"} if htmx else {}
                response = client.generic(method, route.url, headers=headers)
                if not _refused(response, to=to):
                    failures.append(f"{method} {route.url} htmx={htmx} -> {response.status_code}")
    return failures


def test_anonymous_users_are_refused_everywhere_but_public_routes(db):
    guarded = [r for r in ROUTES if r.policy != RoutePolicy.PUBLIC]
    assert guarded
    failures = _walk_as(Client(), guarded, to=reverse(settings.LOGIN_URL))
    assert failures == [], "reachable without signing in:\n" + "\n".join(failures)
    assert not Event.objects.exists()  # no view ran


def test_password_only_sessions_reach_only_enrolment(client, db):
    newcomer = UserFactory(username="newcomer", totp=False)
    post_sign_in(client, newcomer.username)
    assert client.session[SESSION_KEY] == str(newcomer.pk)
    events_before = Event.objects.count()
    guarded = [
        r for r in ROUTES if r.policy not in (RoutePolicy.PUBLIC, RoutePolicy.ENROLMENT, None)
    ]
    failures = _walk_as(client, guarded, to=reverse("accounts:mfa_setup"))
    assert failures == [], "reachable without a second factor:\n" + "\n".join(failures)
    assert Event.objects.count() == events_before
    assert client.session[SESSION_KEY] == str(newcomer.pk)  # still signed in, just fenced


# --- DP-05: no personal data in URLs ---------------------------------------------


def test_urls_carry_only_identifiers():
    offending = []
    for route in ROUTES:
        for name, converter in route.params.items():
            if name == "format":
                continue
            typed = isinstance(converter, IntConverter | UUIDConverter)
            if not ID_PARAM.match(name) or (converter is not None and not typed):
                offending.append(f"{route}: <{name}>")
    assert offending == [], "URL parameters that are not ids:\n" + "\n".join(offending)


# --- DP-05, DP-07: headers on every route -----------------------------------------


def _header_problems(route: Route, response) -> list[str]:
    problems = []
    csp = response.get("Content-Security-Policy", "")
    directives = {}
    for directive in filter(None, (d.strip() for d in csp.split(";"))):
        name, _, value = directive.partition(" ")
        directives[name] = value
    if not csp:
        problems.append("no Content-Security-Policy")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append("CSP allows unsafe-inline/unsafe-eval")
    if directives.get("frame-ancestors") != "'none'":
        problems.append("CSP frame-ancestors is not 'none'")
    if directives.get("report-uri") != reverse("accounts:csp_report"):
        problems.append("CSP has no report-uri")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
    for header, value in expected.items():
        if response.get(header) != value:
            problems.append(f"{header}={response.get(header)!r}")
    if response.status_code >= 500:
        problems.append(f"status {response.status_code}")
    return [f"GET {route.url}: {p}" for p in problems]


@pytest.mark.django_db
def test_every_route_sends_the_security_headers(cast):
    signed_in = verified_client(cast.coordinator)
    anonymous = Client()
    problems = []
    for route in ROUTES:
        client = anonymous if route.policy == RoutePolicy.PUBLIC else signed_in
        problems += _header_problems(route, client.get(route.url))
    assert problems == [], "\n".join(problems)


def test_csp_allows_the_qr_code_and_nothing_inline(settings):
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert directives["img-src"] == ["'self'", "data:"]
    for name in ("default-src", "script-src", "style-src"):
        assert directives[name] == ["'self'"], name
    assert directives["object-src"] == directives["base-uri"] == ["'none'"]
