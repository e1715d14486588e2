"""Passkeys (WebAuthn) as a second factor: the ceremonies' options and checks.

django-otp-webauthn supplies the credential model (a django-otp device) and
the helper around py_webauthn; its JSON views are not used (they would sign
in without our audit, lock-out and pending step). A ceremony here is two
requests: the page that offers it stores the challenge in the session and
carries the options as a JSON data block; the form post that completes it
carries the browser's answer in a hidden field and consumes the challenge,
good for one answer only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential
from webauthn.helpers.exceptions import WebAuthnException

from prepare.accounts.models import User

logger = logging.getLogger(__name__)

REGISTER_STATE = "prepare_passkey_register"
AUTHENTICATE_STATE = "prepare_passkey_authenticate"
# A browser's answer is a few kilobytes; anything much larger is not one.
ANSWER_MAX_CHARS = 64 * 1024


class PasskeyRefused(Exception):
    """The browser's answer does not prove a registered passkey; says no more."""


def relying_party_id(request: HttpRequest) -> str:
    if settings.WEBAUTHN_RP_ID:
        return str(settings.WEBAUTHN_RP_ID)
    domain, _port = split_domain_port(request.get_host())
    return domain


def allowed_origins(request: HttpRequest) -> list[str]:
    if settings.WEBAUTHN_ORIGINS:
        return list(settings.WEBAUTHN_ORIGINS)
    # get_host() has been checked against ALLOWED_HOSTS: the origin is one of ours.
    return [f"{request.scheme}://{request.get_host()}"]


class PasskeyHelper(WebAuthnHelper):
    """The relying party and origins from our settings (``OTP_WEBAUTHN_HELPER_CLASS``)."""

    def get_relying_party_domain(self) -> str:
        return relying_party_id(self.request)

    def get_allowed_origins(self) -> list[str]:
        return allowed_origins(self.request)


def registration_options(request: HttpRequest, *, user: User) -> dict[str, Any]:
    """Options for ``navigator.credentials.create``; the challenge is kept in the session."""
    options, state = PasskeyHelper(request).register_begin(user=user)
    request.session[REGISTER_STATE] = state
    return options


def authentication_options(request: HttpRequest, *, user: User) -> dict[str, Any]:
    """Options for ``navigator.credentials.get``, naming the user's own passkeys."""
    options, state = PasskeyHelper(request).authenticate_begin(
        user=user, require_user_verification=False
    )
    request.session[AUTHENTICATE_STATE] = state
    return options


def _answer(raw: str) -> dict[str, Any]:
    if not raw or len(raw) > ANSWER_MAX_CHARS:
        raise PasskeyRefused
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise PasskeyRefused from error
    if not isinstance(data, dict):
        raise PasskeyRefused
    return data


def _state(request: HttpRequest, key: str) -> dict[str, Any]:
    # Consumed before anything is checked: a challenge is good for one answer.
    state = request.session.pop(key, None)
    if not isinstance(state, dict):
        raise PasskeyRefused
    return state


def _checked(check: Callable[[], Any], what: str) -> WebAuthnCredential:
    """Run the helper's check; any failure of the answer becomes ``PasskeyRefused``."""
    try:
        credential = check()
    except (WebAuthnException, OTPWebAuthnApiError, ValueError, KeyError, TypeError) as error:
        logger.info("Passkey %s refused: %s", what, type(error).__name__)
        raise PasskeyRefused from error
    assert isinstance(credential, WebAuthnCredential)
    return credential


def registration_verify(request: HttpRequest, *, user: User, answer: str) -> WebAuthnCredential:
    """Check the browser's answer to the registration options and store the passkey.

    Raises ``PasskeyRefused`` for any answer that does not verify.
    """
    state = _state(request, REGISTER_STATE)
    data = _answer(answer)
    helper = PasskeyHelper(request)
    return _checked(
        lambda: helper.register_complete(user=user, state=state, data=data), "registration"
    )


def authentication_verify(request: HttpRequest, *, user: User, answer: str) -> WebAuthnCredential:
    """The user's passkey that signed the challenge; its counter and last use updated.

    Raises ``PasskeyRefused`` for an answer that does not verify, a passkey of
    someone else, or a disabled one.
    """
    state = _state(request, AUTHENTICATE_STATE)
    data = _answer(answer)
    helper = PasskeyHelper(request)
    credential = _checked(
        lambda: helper.authenticate_complete(user=user, state=state, data=data), "assertion"
    )
    if not credential.confirmed:
        raise PasskeyRefused
    return credential
