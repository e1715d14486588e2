from __future__ import annotations

import base64
import io
import logging
from typing import Any
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.request import RawPostDataException
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language

from prepare.access.abilities import may_end_sessions_of
from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts import factors, passkeys, services
from prepare.accounts.forms import (
    ApiTokenForm,
    ConfirmPasswordForm,
    PasskeyAddForm,
    PasswordChangeForm,
    PreferencesForm,
    SignInForm,
    TotpAddForm,
    TotpConfirmForm,
)
from prepare.accounts.middleware import is_verified
from prepare.accounts.models import User
from prepare.accounts.second_factor import begin_second_factor
from prepare.accounts.selectors import sessions_of, tokens_of
from prepare.accounts.training import training_records
from prepare.api.parsers import JsonTooDeep, loads_limited

csp_logger = logging.getLogger("prepare.csp")
CSP_REPORT_MAX_BYTES = 8192


def _next_field(request: HttpRequest) -> str:
    """The ``next`` value the sign-in form carries, only if it is a local path."""
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return ""


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _sign_in_page(request: HttpRequest, form: SignInForm, error: str) -> HttpResponse:
    # Every refusal renders through here: same template, status and context
    # whatever the username, so that the answer reveals nothing (AU-03).
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "error": error,
            "next": _next_field(request),
            "demo_skip_mfa": settings.DEMO and settings.DEMO_SKIP_MFA,
        },
        status=200,
    )


@route_policy(RoutePolicy.PUBLIC)
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if is_verified(request):
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignInForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_in(
                request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"] or "",
            )
        except services.SingleSignOnRequired:
            error = _(
                "Your organisation signs you in through its own identity provider: "
                "use “Sign in with your organisation” below."
            )
            form = SignInForm(initial={"username": form.cleaned_data["username"]})
        except services.SignInRefused:
            error = _("The username, password or authentication code is not right.")
            # Only the username is shown again: never the password or a code.
            form = SignInForm(initial={"username": form.cleaned_data["username"]})
        else:
            if not request.user.is_authenticated:
                # A correct password without a code: the second step.
                return begin_second_factor(
                    request, user, via="password", next_url=_safe_next(request)
                )
            if not is_verified(request):
                return redirect("accounts:mfa_setup")
            return HttpResponseRedirect(_safe_next(request))
    return _sign_in_page(request, form, error)


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Any = None,
) -> HttpResponse:
    """What django-axes answers once an account is locked (``AXES_LOCKOUT_CALLABLE``).

    The same page, status and wording for every username, known or not, so
    that the lock-out reveals nothing about which accounts exist (AU-03).
    """
    error = _(
        "The username, password or authentication code is not right. After too many "
        "attempts, sign-in is paused for a while; ask your administrator if you need "
        "access now."
    )
    username = str(request.POST.get("username", "")).strip()[:150]
    return _sign_in_page(request, SignInForm(initial={"username": username}), error)


@route_policy(RoutePolicy.ENROLMENT)
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    services.session_end(request)
    messages.info(request, _("You are signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _grouped(secret: str) -> str:
    """``ABCDEFGH…`` -> ``ABCD EFGH …``, easier to type by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@route_policy(RoutePolicy.ENROLMENT)
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if is_verified(request):
        # More apps and passkeys are added from the sign-in methods page.
        return redirect("accounts:sign_in_methods")
    if factors.has_factor(user):
        # A password-only session must never add to existing second
        # factors; sign-in does not create such a session, so end it.
        services.session_end(request, reason="unverified_enrolment")
        return redirect(settings.LOGIN_URL)
    device = services.totp_enrol_start(user=user)
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_enrol_confirm(request, user=user, code=form.cleaned_data["code"]):
            messages.success(request, _("Your authenticator app is set up."))
            return redirect(settings.LOGIN_REDIRECT_URL)
        form.add_error(
            "code", _("That code is not right. Check the time on your phone and try again.")
        )
    return render(request, "accounts/mfa_setup.html", {"form": form, **_totp_key(device)})


def _totp_key(device: Any) -> dict[str, str]:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return {"secret": _grouped(secret), "qr": _qr_svg(device.config_url)}


def _confirmed(request: HttpRequest, form: Any, *, change: str) -> bool:
    """Whether the password typed on ``form`` is right; if not, the field says so.

    A wrong one is audited and counts towards the lock-out; at the limit the
    session ends and the lock-out page answers.
    """
    user = request.user
    assert isinstance(user, User)
    try:
        factors.confirm_password(request, user=user, password=form.cleaned_data["password"])
    except factors.ConfirmationRefused:
        factors.audit_refused(user, change, "confirmation")
        if getattr(request, "axes_locked_out", False):
            services.session_end(request, reason="locked_out")
        form.add_error("password", _("That password is not right."))
        return False
    return True


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET"])
def sign_in_methods(request: HttpRequest) -> HttpResponse:
    """The user's own second factors: apps, passkeys, recovery codes."""
    user = request.user
    assert isinstance(user, User)
    return render(
        request,
        "accounts/sign_in_methods.html",
        {"factors": factors.factors_of(user), "recovery_count": factors.RECOVERY_CODE_COUNT},
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def totp_add(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    device = services.totp_enrol_start(user=user)
    form = TotpAddForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _confirmed(request, form, change="totp_added")
    ):
        if services.totp_enrol_confirm(
            request, user=user, code=form.cleaned_data["code"], name=form.cleaned_data["name"]
        ):
            messages.success(request, _("The authenticator app is added."))
            return redirect("accounts:sign_in_methods")
        form.add_error(
            "code", _("That code is not right. Check the time on your phone and try again.")
        )
    return render(request, "accounts/totp_add.html", {"form": form, **_totp_key(device)})


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def passkey_add(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = PasskeyAddForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _confirmed(request, form, change="passkey_added")
    ):
        try:
            factors.passkey_add(
                request,
                actor=user,
                name=form.cleaned_data["name"],
                answer=form.cleaned_data["answer"],
            )
        except passkeys.PasskeyRefused:
            factors.audit_refused(user, "passkey_added", "not_verified")
            form.add_error(
                None,
                _(
                    "The passkey was not created. Press “Create passkey” and follow your "
                    "browser's prompts; if it keeps failing, your device may not support passkeys."
                ),
            )
        else:
            messages.success(request, _("The passkey is added."))
            return redirect("accounts:sign_in_methods")
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    options = passkeys.registration_options(request, user=user)
    return render(request, "accounts/passkey_add.html", {"form": form, "options": options})


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def factor_remove(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    factor = next(
        (f for f in factors.factors_of(user).methods if f.kind == kind and f.pk == pk), None
    )
    if factor is None:
        raise NotVisible
    form = ConfirmPasswordForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _confirmed(request, form, change=f"{kind}_removed")
    ):
        try:
            factors.factor_remove(request, actor=user, kind=kind, pk=pk)
        except factors.LastFactor:
            messages.error(
                request,
                _("This is your only way to confirm sign-in; add another before removing it."),
            )
        else:
            messages.success(request, _("“%(name)s” is removed.") % {"name": factor.name})
        return redirect("accounts:sign_in_methods")
    return render(request, "accounts/factor_remove.html", {"form": form, "factor": factor})


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once in the answer to the post; never again."""
    user = request.user
    assert isinstance(user, User)
    form = ConfirmPasswordForm(request.POST or None)
    codes: list[str] = []
    if (
        request.method == "POST"
        and form.is_valid()
        and _confirmed(request, form, change="recovery_codes_generated")
    ):
        codes = factors.recovery_codes_generate(request, actor=user)
    return render(
        request,
        "accounts/recovery_codes.html",
        {
            "form": form,
            "codes": codes,
            "had_codes": factors.factors_of(user).recovery_codes_left is not None,
        },
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The user's own settings: language and time zone."""
    user = request.user
    assert isinstance(user, User)
    initial = {"language": user.language or translation.get_language(), "time_zone": user.time_zone}
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.user_preferences_update(
            actor=user,
            language=form.cleaned_data["language"],
            time_zone=form.cleaned_data["time_zone"],
        )
        translation.activate(user.language)
        messages.success(request, _("Your settings are saved."))
        response = redirect("accounts:preferences")
        _remember_language(response, user.language)
        return response
    trainings = training_records(actor=user, account=user)
    return render(request, "accounts/preferences.html", {"form": form, "trainings": trainings})


def _remember_language(response: HttpResponse, language: str) -> None:
    """The language cookie follows the user's choice (the sign-in page uses it)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
    )


@route_policy(RoutePolicy.PUBLIC)
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The header's language choice: the cookie, and for a signed-in user their setting."""
    response = set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    if (
        isinstance(user, User)
        and is_verified(request)
        and language in dict(settings.LANGUAGES)
        and language != user.language
    ):
        services.user_preferences_update(actor=user, language=language, time_zone=user.time_zone)
    return response


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = ApiTokenForm(request.POST or None)
    new_secret = ""
    if request.method == "POST" and form.is_valid():
        _token, new_secret = services.api_token_create(
            actor=user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
        )
        form = ApiTokenForm()
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens_of(user_id=user.pk), "new_secret": new_secret},
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    services.api_token_revoke(actor=user, token_id=pk)
    messages.success(request, _("The token is revoked."))
    back = request.POST.get("back")
    return redirect("accounts:sessions" if back == "sessions" else "accounts:api_tokens")


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET"])
def sessions(request: HttpRequest) -> HttpResponse:
    """The person's own sessions and API tokens: where and when, and a way to end each."""
    user = request.user
    assert isinstance(user, User)
    return render(
        request,
        "accounts/sessions.html",
        {
            "sessions": sessions_of(user_id=user.pk, current_key=request.session.session_key),
            "tokens": tokens_of(user_id=user.pk),
        },
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if services.session_end_one(request, actor=user, session_id=session_id):
        messages.info(request, _("You are signed out."))
        return redirect(settings.LOGOUT_REDIRECT_URL)
    messages.success(request, _("The session is ended: it is signed out."))
    return redirect("accounts:sessions")


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    form = PasswordChangeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                ended = services.password_change(
                    request,
                    actor=user,
                    current_password=form.cleaned_data["current_password"],
                    new_password=form.cleaned_data["new_password"],
                )
            except services.WrongPassword:
                form.add_error("current_password", _("Your current password is not right."))
            except ValidationError as error:
                form.add_error("new_password", error)
            else:
                messages.success(
                    request,
                    _(
                        "Your password is changed. Your other sessions are signed out "
                        "(%(sessions)d) and your API tokens revoked (%(tokens)d); an e-mail "
                        "tells you so."
                    )
                    % {"sessions": ended.sessions, "tokens": ended.tokens},
                )
                return redirect("accounts:sessions")
    return render(request, "accounts/password_change.html", {"form": form}, status=status)


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
def user_sessions(request: HttpRequest, user_id: int) -> HttpResponse:
    """An administrator's view of another user's sessions and tokens, to end them all."""
    actor = request.user
    assert isinstance(actor, User)
    if actor.pk == user_id:
        return redirect("accounts:sessions")
    if parse_pk(user_id) is None or not may_end_sessions_of(actor, user_id):
        raise NotVisible
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise NotVisible
    if request.method == "POST":
        ended = services.sessions_end_for(actor=actor, user_id=user_id)
        messages.success(
            request,
            _(
                "%(name)s is signed out everywhere: %(sessions)d sessions ended, "
                "%(tokens)d API tokens revoked."
            )
            % {"name": target, "sessions": ended.sessions, "tokens": ended.tokens},
        )
        return redirect("accounts:user_sessions", user_id=user_id)
    return render(
        request,
        "accounts/user_sessions.html",
        {
            "target": target,
            "sessions": sessions_of(user_id=user_id, current_key=None),
            "tokens": [t for t in tokens_of(user_id=user_id) if t.works],
        },
    )


# Browsers post violation reports as JSON without a CSRF token and cannot be
# made to send one, so this endpoint must be CSRF-exempt. It is safe: it
# changes no state and only writes a bounded, sanitised line to the log.
@route_policy(RoutePolicy.PUBLIC)
@csrf_exempt
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """Receives Content-Security-Policy violation reports (DP-07)."""
    try:
        report = loads_limited(request.read(CSP_REPORT_MAX_BYTES))
    except JsonTooDeep:
        return HttpResponse(
            _("The report is nested too deeply."), status=400, content_type="text/plain"
        )
    except (ValueError, UnicodeDecodeError, RawPostDataException):
        report = None
    body = report.get("csp-report") if isinstance(report, dict) else None
    if isinstance(body, dict):
        fields = {
            "effective-directive": _log_safe(body.get("effective-directive")),
            "violated-directive": _log_safe(body.get("violated-directive")),
            # No query strings or fragments: they could carry anything.
            "blocked": _log_safe(_without_query(body.get("blocked-uri"))),
            "document": _log_safe(urlsplit(_without_query(body.get("document-uri"))).path),
        }
        csp_logger.warning("CSP violation %s", " ".join(f"{k}={v}" for k, v in fields.items()))
    return HttpResponse(status=204)


def _without_query(value: Any) -> str:
    return str(value or "").split("?", 1)[0].split("#", 1)[0]


def _log_safe(value: Any) -> str:
    """At most 200 printable characters; no line breaks to forge log lines with."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text[:200]) or "-"
