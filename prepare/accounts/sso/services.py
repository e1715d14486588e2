"""Single sign-on through an organisation's OpenID Connect provider.

The flow, each step audited:

1. ``sso_begin``: the person types their e-mail address or their
   organisation's domain; the provider that allows it is found and the
   browser is sent there.
2. ``sso_complete``: the provider sends the browser back; the ID token is
   checked (``client``), its claim is matched against the accounts of the
   provider's organisation only (no account is ever created), and then either
   the provider asserted a second factor (the session is verified) or the
   person still gives their own one on the second-factor step that follows a
   password too (``prepare.accounts.second_factor.begin_second_factor``: a
   passkey, an authenticator's code or a recovery code, counted towards the
   lock-out as at sign-in).

Not atomic: a refusal's audit event and the lock-out counter must survive
the exception, as in ``prepare.accounts.services.sign_in``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.abilities import may_configure_sign_in
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.accounts.middleware import (
    SESSION_MFA_ASSERTED,
)
from prepare.accounts.models import (
    PROVIDER_SETTINGS,
    IdentityProvider,
    Organisation,
    User,
    UserClaim,
)
from prepare.accounts.second_factor import begin_second_factor, complete_sign_in, pending_clear
from prepare.accounts.sso import client
from prepare.accounts.sso.client import SsoRefused
from prepare.accounts.sso.sealing import seal
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record, changed_fields
from prepare.locking import StaleVersion, save_versioned

# The provider and the page to return to, between the redirect and the return.
SESSION_FLOW = "prepare_sso_flow"
# How the first factor was given, in the sign-in's audit event.
VIA = "oidc"


class NoProvider(Exception):
    """No enabled provider allows this address or domain."""


@dataclass(frozen=True)
class SsoOutcome:
    """Where the browser goes next."""

    redirect_to: str


def _domain_of(address: str) -> str:
    return address.strip().rsplit("@", 1)[-1].strip().lower()


def provider_for_address(address: str) -> IdentityProvider | None:
    """The enabled provider whose allowed domains hold the address's domain. One query
    (the providers are one per organisation: a few dozen rows at most)."""
    domain = _domain_of(address)
    if not domain:
        return None
    for provider in IdentityProvider.objects.filter(
        is_enabled=True, organisation__is_active=True
    ).only("pk", "allowed_domains", "issuer", "client_id", "client_secret_sealed"):
        if domain in (provider.allowed_domains or []):
            return provider
    return None


def sso_begin(
    request: HttpRequest, *, address: str, next_url: str, callback_url: str
) -> HttpResponseRedirect:
    """Send the browser to the provider of the address's domain."""
    provider = provider_for_address(address)
    if provider is None:
        raise NoProvider
    hint = address.strip() if "@" in address else ""
    try:
        response = client.authorization_redirect(
            request, provider, redirect_uri=callback_url, login_hint=hint
        )
    except SsoRefused as exc:
        _refuse(reason=exc.reason, provider=provider.pk)
    # A second-factor step left half-way (by a password or an earlier provider's
    # sign-in) does not survive a new start.
    pending_clear(request)
    request.session[SESSION_FLOW] = {"provider": provider.pk, "next": next_url}
    return response


def sso_complete(request: HttpRequest) -> SsoOutcome:
    """Check the provider's answer and sign the matching account in (or hand it
    to the second factor)."""
    flow = request.session.pop(SESSION_FLOW, None)
    if not isinstance(flow, dict):
        _refuse(reason="no_sign_in_under_way")
    provider = (
        IdentityProvider.objects.select_related("organisation")
        .filter(pk=int(flow.get("provider") or 0), is_enabled=True, organisation__is_active=True)
        .first()
    )
    if provider is None:
        _refuse(reason="provider_disabled")
    try:
        identity = client.identity_from_callback(request, provider)
    except SsoRefused as exc:
        _refuse(reason=exc.reason, provider=provider.pk)
    facts: dict[str, Any] = {"provider": provider.pk, "amr": identity.amr, "acr": identity.acr}
    claims = identity.claims
    if provider.allowed_domains:
        email = str(claims.get("email") or "")
        if (
            "@" not in email
            or claims.get("email_verified") is False
            or _domain_of(email) not in provider.allowed_domains
        ):
            _refuse(reason="domain_not_allowed", claimed=claims.get(provider.user_claim), **facts)
    user = _account_for(provider, claims.get(provider.user_claim))
    if user is None:
        _refuse(reason="no_account", claimed=claims.get(provider.user_claim), **facts)
    if AxesProxyHandler.is_locked(request, credentials={"username": user.get_username()}):
        _refuse(reason="locked", user=user, **facts)
    next_url = str(flow.get("next") or "")
    asserted = provider.asserts_mfa and (
        "mfa" in identity.amr or (identity.acr and identity.acr in provider.mfa_acr_values)
    )
    if asserted:
        complete_sign_in(
            request, user, device=None, via=VIA, method="provider", second_factor=True, **facts
        )
        request.session[SESSION_MFA_ASSERTED] = user.pk
        return SsoOutcome(next_url or reverse(settings.LOGIN_REDIRECT_URL))
    # PREPARE's own second factor: a passkey, an authenticator's code or a
    # recovery code, exactly as after a password (and enrolment for someone
    # who has none yet).
    response = begin_second_factor(request, user, via=VIA, next_url=next_url, facts=facts)
    return SsoOutcome(response["Location"])


def _account_for(provider: IdentityProvider, value: Any) -> User | None:
    """The one active account of the provider's organisation that the claim names."""
    if not isinstance(value, str) or not value.strip():
        return None
    accounts = User.objects.filter(organisation_id=provider.organisation_id, is_active=True)
    if provider.user_claim == UserClaim.EMAIL:
        accounts = accounts.filter(email__iexact=value.strip())
    else:
        accounts = accounts.filter(username=value.strip())
    found = list(accounts[:2])
    # Two accounts with the same address: refuse rather than guess.
    return found[0] if len(found) == 1 else None


def _refuse(*, reason: str, user: User | None = None, claimed: Any = "", **facts: Any) -> NoReturn:
    """Audit a refused sign-in through a provider and raise. ``claimed`` is what
    the token said the user is (as a typed username is for a password sign-in)."""
    audit_record(
        action=EventAction.LOGIN_FAILED,
        actor=user,
        username=claimed if isinstance(claimed, str) else "",
        outcome=Outcome.DENIED,
        detail={"stage": "sso", "refused": reason, **facts},
    )
    raise SsoRefused(reason)


# --- Configuring a provider (the installation's administrator) ----------------------


def _require_administrator(actor: User) -> None:
    if not may_configure_sign_in(actor):
        raise WriteForbidden


@transaction.atomic
def identity_provider_create(
    *, actor: User, organisation_id: int, client_secret: str, **config: Any
) -> IdentityProvider:
    """An organisation's identity provider. The secret is stored sealed. Audited
    with the names of the fields set, never their values."""
    _require_administrator(actor)
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotVisible
    if not client_secret:
        raise ValidationError({"client_secret": _("Enter the client secret.")})
    provider = IdentityProvider(
        organisation=organisation,
        client_secret_sealed=seal(client_secret),
        **{k: v for k, v in config.items() if k in PROVIDER_SETTINGS},
    )
    provider.full_clean()
    provider.save()
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        obj=provider,
        detail={"organisation": organisation.pk, "fields": sorted([*config, "client_secret"])},
    )
    return provider


@transaction.atomic
def identity_provider_update(
    *, actor: User, provider_id: int, version: int, client_secret: str = "", **config: Any
) -> list[str]:
    """Change a provider; an empty ``client_secret`` keeps the stored one. A stale
    ``version`` is refused (``StaleVersion``). The names of the fields changed."""
    _require_administrator(actor)
    provider = IdentityProvider.objects.select_for_update().filter(pk=provider_id).first()
    if provider is None:
        raise NotVisible
    before = {name: getattr(provider, name) for name in PROVIDER_SETTINGS}
    for name, value in config.items():
        if name in PROVIDER_SETTINGS:
            setattr(provider, name, value)
    provider.full_clean()
    after = {name: getattr(provider, name) for name in PROVIDER_SETTINGS}
    changed = changed_fields(before, after)
    fields = {name: after[name] for name in changed}
    if client_secret:
        fields["client_secret_sealed"] = seal(client_secret)
        fields["secret_set_at"] = timezone.now()
        changed.append("client_secret")
    if not changed:
        if provider.version != version:
            raise StaleVersion
        return []
    fields["updated_at"] = timezone.now()
    save_versioned(provider, version, fields)
    client.forget(before["issuer"])
    client.forget(provider.issuer)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        obj=provider,
        detail={"organisation": provider.organisation_id, "changed": changed},
    )
    return changed
