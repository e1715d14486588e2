"""Talking to an organisation's OpenID Connect provider, through Authlib.

Authlib's Django client does the protocol: the authorisation request with
``state``, ``nonce`` and PKCE kept in the session, the code exchange, and the
ID token's checks (signature against the provider's JWKS, ``iss``, ``aud``,
``exp``, ``iat``, ``nonce``). This module gives it each organisation's
configuration from the database instead of settings, reads and caches the
discovery document, and turns every way a provider's answer can fail into one
``SsoRefused`` with a short reason for the audit log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseRedirect
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)

from prepare.accounts.models import IdentityProvider
from prepare.accounts.sso.sealing import SecretUnreadable, unseal

APP_NAME = "prepare_sso"
DISCOVERY_PATH = "/.well-known/openid-configuration"
# Clocks of the provider and of PREPARE may differ a little (seconds).
LEEWAY = 60


class SsoRefused(Exception):
    """A sign-in through the provider is refused (its answer cannot be trusted or
    used, or it names no account); ``reason`` is the audit log's word for why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderIdentity:
    """The checked claims of an ID token."""

    claims: dict[str, Any]

    @property
    def amr(self) -> list[str]:
        value = self.claims.get("amr") or []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    @property
    def acr(self) -> str:
        return str(self.claims.get("acr") or "")


def _cache_key(issuer: str) -> str:
    return "prepare:sso:discovery:" + hashlib.sha256(issuer.encode()).hexdigest()


def discovery(provider: IdentityProvider) -> dict[str, Any]:
    """The provider's discovery document (with its signing keys once read), cached.

    The document must name the configured issuer exactly (OpenID Connect
    Discovery 1.0, section 4.3): a document that names another issuer is refused.
    """
    key = _cache_key(provider.issuer)
    metadata = cache.get(key)
    if metadata is not None:
        return dict(metadata)
    try:
        response = requests.get(
            provider.issuer.rstrip("/") + DISCOVERY_PATH,
            timeout=settings.SSO_HTTP_TIMEOUT,
            allow_redirects=False,
        )
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SsoRefused("discovery_unreachable") from exc
    if not isinstance(metadata, dict) or metadata.get("issuer") != provider.issuer:
        raise SsoRefused("discovery_issuer_mismatch")
    if not all(metadata.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")):
        raise SsoRefused("discovery_incomplete")
    cache.set(key, metadata, settings.SSO_DISCOVERY_TTL)
    return dict(metadata)


def _remember(provider: IdentityProvider, metadata: dict[str, Any]) -> None:
    """Keep the signing keys read during this sign-in for the next ones."""
    if "jwks" in metadata:
        cache.set(_cache_key(provider.issuer), metadata, settings.SSO_DISCOVERY_TTL)


def forget(issuer: str) -> None:
    """Drop the cached document (the configuration changed)."""
    cache.delete(_cache_key(issuer))


def _app(provider: IdentityProvider, metadata: dict[str, Any]) -> DjangoOAuth2App:
    try:
        secret = unseal(provider.client_secret_sealed)
    except SecretUnreadable as exc:
        raise SsoRefused("client_secret_unreadable") from exc
    return DjangoOAuth2App(
        DjangoIntegration(APP_NAME),
        name=APP_NAME,
        client_id=provider.client_id,
        client_secret=secret,
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            "default_timeout": settings.SSO_HTTP_TIMEOUT,
        },
        **metadata,
    )


def authorization_redirect(
    request: HttpRequest, provider: IdentityProvider, *, redirect_uri: str, login_hint: str = ""
) -> HttpResponseRedirect:
    """Send the browser to the provider; ``state``, ``nonce`` and the PKCE
    verifier stay in the session."""
    app = _app(provider, discovery(provider))
    extra = {"login_hint": login_hint} if login_hint else {}
    try:
        return app.authorize_redirect(request, redirect_uri, **extra)
    except (OAuthError, RuntimeError) as exc:
        raise SsoRefused("authorization_request") from exc


def _reason(exc: Exception) -> str:
    """What an ID token check said, in a word for the audit log."""
    if isinstance(exc, ExpiredTokenError):
        return "token_expired"
    if isinstance(exc, InvalidClaimError | MissingClaimError):
        claim = str(getattr(exc, "claim", "") or "").lower()
        return {"iss": "wrong_issuer", "aud": "wrong_audience", "nonce": "wrong_nonce"}.get(
            claim, f"invalid_claim_{claim}"[:40]
        )
    return "bad_signature" if isinstance(exc, JoseError) else "invalid_token"


def identity_from_callback(request: HttpRequest, provider: IdentityProvider) -> ProviderIdentity:
    """Exchange the code the provider sent back and check its ID token.

    The state must be the one this session sent (Authlib keeps it in the
    session), the token signed by a key of the provider's JWKS, issued by the
    configured issuer, for our client id, not expired, with our nonce.
    """
    metadata = discovery(provider)
    app = _app(provider, metadata)
    claims_options = {
        "iss": {"essential": True, "values": [provider.issuer]},
        "aud": {"essential": True, "values": [provider.client_id]},
        "exp": {"essential": True},
        "sub": {"essential": True},
    }
    try:
        token = app.authorize_access_token(
            request, claims_options=claims_options, claims_cls=CodeIDToken, leeway=LEEWAY
        )
    except OAuthError as exc:
        error = str(getattr(exc, "error", "") or "")
        raise SsoRefused(
            "wrong_state" if error == "mismatching_state" else f"provider_{error}"[:40]
        ) from exc
    except requests.RequestException as exc:
        raise SsoRefused("token_endpoint_unreachable") from exc
    except JoseError as exc:
        raise SsoRefused(_reason(exc)) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise SsoRefused("invalid_token") from exc
    _remember(provider, app.server_metadata)
    userinfo = token.get("userinfo")
    if not userinfo:
        raise SsoRefused("no_id_token")
    return ProviderIdentity(claims=dict(userinfo))
