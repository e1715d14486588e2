"""Single sign-on pages: the way in through the organisation's provider, and
the administrator's configuration of each organisation's provider."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from prepare.access.abilities import may_configure_sign_in
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.middleware import is_verified
from prepare.accounts.models import IdentityProvider, Organisation
from prepare.accounts.sso import services
from prepare.accounts.sso.forms import IdentityProviderForm, SsoStartForm
from prepare.locking import StaleVersion, VersionRequired
from prepare.web import INVALID, request_actor

# What a person is told when the provider's sign-in is refused, by the audit's reason.
_NO_ACCOUNT = _(
    "Your organisation's sign-in worked, but no PREPARE account of your organisation "
    "matches it. Accounts are created by invitation only: ask your administrator."
)
_DOMAIN = _(
    "Your organisation's sign-in worked, but your e-mail address is not in a domain your "
    "organisation allows for PREPARE. Ask your administrator."
)
_FAILED = _(
    "The sign-in through your organisation could not be completed. Start again; if it "
    "keeps failing, tell your administrator."
)
_LOCKED = _(
    "Sign-in is paused for your account after too many attempts; try again later or ask "
    "your administrator."
)


def _local(target: str, request: HttpRequest) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _start_page(
    request: HttpRequest, form: SsoStartForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "accounts/sso_start.html",
        {"form": form, "error": error, "next": _local(request.GET.get("next", ""), request)},
        status=status,
    )


@route_policy(RoutePolicy.PUBLIC)
@require_http_methods(["GET", "POST"])
def sso_start(request: HttpRequest) -> HttpResponse:
    """ "Sign in with your organisation": the address or domain first, then the provider."""
    if is_verified(request):
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SsoStartForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return _start_page(request, form, status=INVALID)
        try:
            return services.sso_begin(
                request,
                address=form.cleaned_data["address"],
                next_url=_local(request.POST.get("next", ""), request),
                callback_url=request.build_absolute_uri(reverse("accounts:sso_callback")),
            )
        except services.NoProvider:
            form.add_error(
                "address",
                _(
                    "No organisation signs in to PREPARE with that domain. Check the address, "
                    "or sign in with your username and password."
                ),
            )
            return _start_page(request, form, status=INVALID)
        except services.SsoRefused:
            return _start_page(
                request,
                form,
                error=_(
                    "Your organisation's sign-in cannot be reached just now. Try again in a "
                    "few minutes, or sign in with your username and password."
                ),
                # A 4xx, not a 5xx: the refusal's audit event must commit.
                status=403,
            )
    return _start_page(request, form)


@route_policy(RoutePolicy.PUBLIC)
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back."""
    try:
        outcome = services.sso_complete(request)
    except services.SsoRefused as exc:
        error = {"no_account": _NO_ACCOUNT, "domain_not_allowed": _DOMAIN, "locked": _LOCKED}
        return _start_page(
            request, SsoStartForm(), error=error.get(exc.reason, _FAILED), status=403
        )
    return HttpResponseRedirect(outcome.redirect_to)


# --- The administrator's pages --------------------------------------------------------


def _administrator(request: HttpRequest) -> None:
    if not may_configure_sign_in(request_actor(request)):
        # 403, recorded as a denied event like every refusal of the policy.
        raise WriteForbidden


@route_policy(RoutePolicy.ADMINISTRATION)
@require_GET
def identity_providers(request: HttpRequest) -> HttpResponse:
    """Every organisation, with its identity provider if it has one. One query."""
    _administrator(request)
    organisations = Organisation.objects.select_related("identity_provider").order_by("name")
    return render(request, "accounts/identity_providers.html", {"organisations": organisations})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def identity_provider_create(request: HttpRequest) -> HttpResponse:
    _administrator(request)
    form = IdentityProviderForm(request.POST or None, initial=_initial_organisation(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.identity_provider_create(
                actor=request_actor(request),
                organisation_id=form.cleaned_data["organisation"].pk,
                client_secret=form.cleaned_data["client_secret"],
                **form.config(),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The identity provider is saved."))
            return redirect("accounts:identity_providers")
    status = INVALID if form.errors else 200
    return render(request, "accounts/identity_provider_form.html", {"form": form}, status=status)


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def identity_provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _administrator(request)
    provider = IdentityProvider.objects.select_related("organisation").filter(pk=pk).first()
    if provider is None:
        raise NotVisible
    form = IdentityProviderForm(request.POST or None, provider=provider)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.identity_provider_update(
                actor=request_actor(request),
                provider_id=provider.pk,
                version=form.cleaned_data["version"] or 0,
                client_secret=form.cleaned_data["client_secret"],
                **form.config(),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        except (StaleVersion, VersionRequired) as exc:
            form.add_error(None, str(exc.message))
            status = 409
        else:
            messages.success(
                request,
                _("The identity provider is saved.") if changed else _("Nothing was changed."),
            )
            return redirect("accounts:identity_providers")
    if form.errors and status == 200:
        status = INVALID
    return render(
        request,
        "accounts/identity_provider_form.html",
        {"form": form, "provider": provider},
        status=status,
    )


def _initial_organisation(request: HttpRequest) -> dict[str, str]:
    raw = request.GET.get("organisation", "")
    return {"organisation": raw} if raw.isdigit() else {}


def _add_errors(form: IdentityProviderForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
