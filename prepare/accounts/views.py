from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts import services
from prepare.accounts.forms import ApiTokenForm, SignInForm, TotpConfirmForm
from prepare.accounts.middleware import is_verified
from prepare.accounts.models import User


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


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
        except services.SignInRefused:
            error = _("The username, password or authentication code is not right.")
        else:
            if not is_verified(request):
                return redirect("accounts:mfa_setup")
            del user
            return HttpResponseRedirect(_safe_next(request))
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "error": error,
            "next": request.GET.get("next", ""),
            "demo_skip_mfa": settings.DEMO and settings.DEMO_SKIP_MFA,
        },
        status=200,
    )


def locked_out(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    """What django-axes answers once an account is locked: the same for every username."""
    form = SignInForm()
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "error": _(
                "The username, password or authentication code is not right. After too many "
                "attempts, sign-in is paused for a while; ask your administrator if you need "
                "access now."
            ),
        },
        status=200,
    )


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


@route_policy(RoutePolicy.ENROLMENT)
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if is_verified(request) and request.method == "GET" and not request.GET.get("renew"):
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
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/mfa_setup.html",
        {"form": form, "secret": secret, "qr": _qr_svg(device.config_url)},
    )


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
