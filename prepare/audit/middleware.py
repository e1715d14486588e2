from __future__ import annotations

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest, HttpResponse

from prepare.audit import chain, denials
from prepare.audit.context import RequestContext, new_request_id, reset_context, set_context


class RequestContextMiddleware:
    """Gives each request an id and records its source address for the audit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        # The client's address: REMOTE_ADDR, or from X-Forwarded-For only behind
        # the number of proxies PREPARE_TRUSTED_PROXIES says (accounts.addresses).
        from prepare.accounts.addresses import client_address

        ip = client_address(request)
        token = set_context(RequestContext(request_id=request_id, source_ip=ip))
        try:
            response = self.get_response(request)
        finally:
            reset_context(token)
        response["X-Request-ID"] = request_id
        return response


def _non_atomic(request: HttpRequest) -> bool:
    """Whether the route opted out of the request's transaction
    (``transaction.non_atomic_requests``, as the health check does)."""
    from prepare.web import route_of

    match = route_of(request)
    if match is None:
        return False
    return DEFAULT_DB_ALIAS in getattr(match.func, "_non_atomic_requests", set())


_ROLLBACK_ATTR = "_prepare_roll_back"


def roll_back_request(request: HttpRequest) -> None:
    """Undo everything the request did when its transaction ends (a view raised,
    or the API answered with an error). The transaction stays usable until
    then, so that the error page can still be rendered."""
    setattr(request, _ROLLBACK_ATTR, True)


class AuditedTransactionMiddleware:
    """Each request is one transaction, and its audit events are linked to the
    chain as the last thing before it commits.

    It takes the place of ``ATOMIC_REQUESTS`` and keeps its promise: a view
    that raises, an API answer built from an error (``api_exception_handler``)
    and any 5xx leave nothing behind, audit events included. It differs in two
    ways: the session's load and save are in the same transaction (one commit
    per request, not two), and the chain head is locked only from sealing to
    commit, after the page is rendered, so that concurrent requests do not
    take turns for their whole length. If sealing fails, the exception
    propagates, the transaction rolls back and the rendered page is never
    sent (fail closed).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _non_atomic(request):
            return self.get_response(request)
        with transaction.atomic(), chain.sealed_at_end() as scope:
            response = self.get_response(request)
            if response.status_code >= 500 or getattr(request, _ROLLBACK_ATTR, False):
                transaction.set_rollback(True)
            else:
                chain.seal_pending(scope)
        # A refusal (404/403 from the policy) is recorded now, in a transaction
        # of its own, so that the request's rollback did not take it away.
        denials.record(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # The view raised: what it did is undone at the end, as ATOMIC_REQUESTS
        # would; Django now answers from the exception (a 403 or 404 page).
        roll_back_request(request)
        denials.note(request, exception)
