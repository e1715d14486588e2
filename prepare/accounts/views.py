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

from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts import services
from prepare.accounts.forms import ApiTokenForm, PreferencesForm, SignInForm, TotpConfirmForm
from prepare.accounts.middleware import is_verified
from prepare.accounts.models import User
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
            services.sign_in(
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
    verified = is_verified(request)
    if not verified and services.confirmed_totp(user) is not None:
        # A password-only session must never replace an existing second
        # factor; sign-in does not create such a session, so end it.
        services.session_end(request, reason="unverified_enrolment")
        return redirect(settings.LOGIN_URL)
    if verified and request.method == "GET" and not request.GET.get("renew"):
        return render(request, "accounts/mfa_done.html")
    device = services.totp_enrol_start(user=user)
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_enrol_confirm(request, user=user, code=form.cleaned_data["code"]):
            messages.success(request, _("Your authenticator app is set up."))
            return redirect(settings.LOGIN_REDIRECT_URL)
        form.add_error(
            "code", _("That code is not right. Check the time on your phone and try again.")
        )
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "accounts/mfa_setup.html",
        {"form": form, "secret": _grouped(secret), "qr": _qr_svg(device.config_url)},
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
    return render(request, "accounts/preferences.html", {"form": form})


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
        _token, new_secret = services.api_token_create(actor=user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    tokens = user.api_tokens.all()
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens, "new_secret": new_secret},
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    services.api_token_revoke(actor=user, token_id=pk)
    messages.success(request, _("The token is revoked."))
    return redirect("accounts:api_tokens")


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
