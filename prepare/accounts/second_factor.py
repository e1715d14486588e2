"""The second-factor step of sign-in: the one entry point after a first factor.

A first factor (the password today; an organisation's OpenID Connect sign-in
later) hands the user to ``begin_second_factor``. Until a passkey, a code
from an authenticator app or a recovery code completes it, nobody is signed
in: the session holds only the pending user's id, when the step began and how
the user came, and the step expires after ``SECOND_FACTOR_TIMEOUT`` seconds.
Completing it signs the user in with a new session key. A wrong answer
counts towards the lock-out like a wrong password.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any, NoReturn

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.models import Device

from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts import factors, passkeys
from prepare.accounts.backends import BACKEND
from prepare.accounts.credentials import session_register
from prepare.accounts.forms import SecondFactorCodeForm
from prepare.accounts.middleware import SESSION_LAST_SEEN, SESSION_SIGNED_IN_AT, is_verified
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record

PENDING_USER = "prepare_pending_user"
PENDING_SINCE = "prepare_pending_since"
PENDING_VIA = "prepare_pending_via"
PENDING_NEXT = "prepare_pending_next"
PENDING_FACTS = "prepare_pending_facts"
PENDING_KEYS = (PENDING_USER, PENDING_SINCE, PENDING_VIA, PENDING_NEXT, PENDING_FACTS)


class SecondFactorRefused(Exception):
    """The passkey, code or recovery code did not verify."""


def begin_second_factor(
    request: HttpRequest,
    user: User,
    *,
    via: str,
    next_url: str = "",
    facts: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """Hand a user whose first factor passed to the second-factor step.

    ``via`` says how the first factor was given (``"password"``, ``"oidc"``)
    and goes into the sign-in's audit event, with ``facts`` (for a provider's
    sign-in: which provider, its ``amr`` and ``acr``), on success and on every
    refusal. ``next_url`` must already be a safe local path. A user without
    any second factor is signed in at once with a session that can only set
    one up (as a new account is).
    """
    facts = dict(facts or {})
    if not factors.has_factor(user):
        complete_sign_in(request, user, device=None, via=via, method="", **facts)
        return redirect("accounts:mfa_setup")
    request.session[PENDING_USER] = user.pk
    request.session[PENDING_SINCE] = time.time()
    request.session[PENDING_VIA] = via
    request.session[PENDING_NEXT] = next_url
    request.session[PENDING_FACTS] = facts
    return redirect("accounts:second_factor")


def _pending_facts(request: HttpRequest) -> dict[str, Any]:
    facts = request.session.get(PENDING_FACTS)
    return dict(facts) if isinstance(facts, dict) else {}


def pending_clear(request: HttpRequest) -> None:
    for key in PENDING_KEYS:
        request.session.pop(key, None)
    request.session.pop(passkeys.AUTHENTICATE_STATE, None)


def pending_user(request: HttpRequest) -> User | None:
    """The user waiting for their second factor, unless the step has expired."""
    pk = request.session.get(PENDING_USER)
    if pk is None:
        return None
    since = float(request.session.get(PENDING_SINCE) or 0)
    if time.time() - since > settings.SECOND_FACTOR_TIMEOUT:
        pending_clear(request)
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        pending_clear(request)
    return user


def complete_sign_in(
    request: HttpRequest,
    user: User,
    *,
    device: Device | None,
    via: str,
    method: str,
    **detail_extra: object,
) -> None:
    """Sign the user in, verified with ``device`` (None: enrolment only), and
    register the session (``credentials``). Audited. After a password and
    code, the second step, or a completed enrolment link.

    ``login`` gives the session a new key: nothing planted in the session
    before, and no pending state, survives. ``via`` and ``method`` go into
    the audit event when given (the one-form sign-in gives neither).
    """
    pending_clear(request)
    login(request, user, backend=BACKEND)
    if device is not None:
        otp_login(request, device)
    now = time.time()
    request.session[SESSION_SIGNED_IN_AT] = now
    request.session[SESSION_LAST_SEEN] = now
    session_register(request, user=user)
    detail: dict[str, object] = {"second_factor": is_verified(request)}
    if via:
        detail["via"] = via
    if method:
        detail["method"] = method
    audit_record(action=EventAction.LOGIN, actor=user, detail={**detail, **detail_extra})


def _refuse(request: HttpRequest, user: User, *, method: str) -> NoReturn:
    """Count and audit a wrong answer at the step, then raise ``SecondFactorRefused``.

    Not in a transaction of its own: the count, the event and the devices'
    throttles must survive the refusal (the view answers normally and the
    request's transaction commits). Once the count reaches the limit, axes
    answers with the sign-in page's lock-out message and the step ends.
    """
    from prepare.accounts.services import SignInRefused

    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )
    _refuse_quietly(request, user, stage=f"second_factor_{method}", refused=SignInRefused)
    raise SecondFactorRefused


def _refuse_quietly(
    request: HttpRequest, user: User, *, stage: str, refused: type[Exception]
) -> None:
    from prepare.accounts.services import refuse_sign_in as refuse

    facts = _pending_facts(request)
    if getattr(request, "axes_locked_out", False):
        pending_clear(request)
    with contextlib.suppress(refused):
        refuse(request, username=user.get_username(), stage=stage, user=user, detail=facts)


def second_factor_passkey(request: HttpRequest, *, user: User, answer: str) -> None:
    """Complete the step with a passkey's answer; ``SecondFactorRefused`` if it fails."""
    try:
        credential = passkeys.authentication_verify(request, user=user, answer=answer)
    except passkeys.PasskeyRefused:
        _refuse(request, user, method="passkey")
    via = str(request.session.get(PENDING_VIA, ""))
    complete_sign_in(
        request, user, device=credential, via=via, method="passkey", **_pending_facts(request)
    )


def second_factor_code(request: HttpRequest, *, user: User, code: str) -> None:
    """Complete the step with an app's code or a recovery code; ``SecondFactorRefused`` if wrong."""
    device = factors.code_device(user, code)
    if device is None:
        _refuse(request, user, method="code")
    method = "recovery_code" if device.name == factors.RECOVERY_DEVICE_NAME else "totp"
    via = str(request.session.get(PENDING_VIA, ""))
    complete_sign_in(
        request, user, device=device, via=via, method=method, **_pending_facts(request)
    )


def _locked(request: HttpRequest, user: User) -> bool:
    from axes.handlers.proxy import AxesProxyHandler

    return bool(AxesProxyHandler.is_locked(request, {"username": user.get_username()}))


@route_policy(RoutePolicy.PUBLIC)
@require_http_methods(["GET", "POST"])
def second_factor_step(request: HttpRequest) -> HttpResponse:
    """Pick a passkey, an authenticator app's code or a recovery code."""
    if is_verified(request):
        return redirect(settings.LOGIN_REDIRECT_URL)
    user = pending_user(request)
    if user is None:
        messages.info(request, _("Your sign-in was not finished in time. Please sign in again."))
        return redirect(settings.LOGIN_URL)
    target = str(request.session.get(PENDING_NEXT) or "") or reverse(settings.LOGIN_REDIRECT_URL)
    form = SecondFactorCodeForm()
    error = ""
    if request.method == "POST":
        if _locked(request, user):
            # Not checked while locked; axes answers with the lock-out page.
            from prepare.accounts.services import SignInRefused

            request.axes_locked_out = True  # type: ignore[attr-defined]
            _refuse_quietly(request, user, stage="second_factor", refused=SignInRefused)
            return redirect(settings.LOGIN_URL)
        with_passkey = request.POST.get("method") == "passkey"
        form = SecondFactorCodeForm(None if with_passkey else request.POST)
        try:
            if with_passkey:
                second_factor_passkey(request, user=user, answer=request.POST.get("answer", ""))
            elif form.is_valid():
                second_factor_code(request, user=user, code=form.cleaned_data["code"])
        except SecondFactorRefused:
            if getattr(request, "axes_locked_out", False):
                return redirect(settings.LOGIN_URL)
            error = (
                _("That passkey could not be checked. Try again, or use a code instead.")
                if with_passkey
                else _("That code is not right, or it was used already.")
            )
            form = SecondFactorCodeForm()
        if is_verified(request):
            return HttpResponseRedirect(target)
    options = (
        passkeys.authentication_options(request, user=user) if factors.has_passkey(user) else None
    )
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "error": error,
            "pending": user,
            "via": request.session.get(PENDING_VIA, ""),
            "passkey_options": options,
            "minutes": max(1, settings.SECOND_FACTOR_TIMEOUT // 60),
        },
    )
