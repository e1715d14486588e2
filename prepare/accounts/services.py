"""Sign-in, sign-out and second-factor enrolment, each audited."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.accounts.middleware import SESSION_LAST_SEEN, SESSION_SIGNED_IN_AT, is_verified
from prepare.accounts.models import ApiToken, User
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record


class SignInRefused(Exception):
    """Wrong username, password or code; deliberately says no more than that."""


def confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def sign_in(request: HttpRequest, *, username: str, password: str, code: str) -> User:
    """Check password and one-time code together and start a verified session.

    A wrong password, a wrong or replayed code and an unknown user all raise
    the same ``SignInRefused`` and count towards the lock-out. A user without a
    second factor yet gets a session that can only reach the enrolment page.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        _refuse(request, username)
    assert isinstance(user, User)
    device = confirmed_totp(user)
    if device is not None:
        skip = settings.DEMO and settings.DEMO_SKIP_MFA
        if not skip and not device.verify_token(code.replace(" ", "")):
            user_login_failed.send(
                sender=__name__, credentials={"username": username}, request=request
            )
            _refuse(request, username)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    now = time.time()
    request.session[SESSION_SIGNED_IN_AT] = now
    request.session[SESSION_LAST_SEEN] = now
    audit_record(
        action=EventAction.LOGIN,
        actor=user,
        detail={"second_factor": is_verified(request)},
    )
    return user


def _refuse(request: HttpRequest, username: str) -> None:
    locked = bool(getattr(request, "axes_locked_out", False))
    # Written in its own transaction: the failed attempt is recorded even
    # though the request that made it changes nothing else.
    with transaction.atomic():
        audit_record(
            action=EventAction.LOCKED_OUT if locked else EventAction.LOGIN_FAILED,
            username=username,
            outcome=Outcome.DENIED,
        )
    raise SignInRefused


def session_end(request: HttpRequest, *, reason: str = "user") -> None:
    user = request.user
    if user.is_authenticated:
        audit_record(action=EventAction.LOGOUT, actor=user, detail={"reason": reason})
    logout(request)


@transaction.atomic
def totp_enrol_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for the user (reused until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="PREPARE", confirmed=False)
    return device


@transaction.atomic
def totp_enrol_confirm(request: HttpRequest, *, user: User, code: str) -> bool:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(code.replace(" ", "")):
        return False
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    audit_record(action=EventAction.MFA_CHANGE, actor=user, detail={"change": "totp_confirmed"})
    return True


@transaction.atomic
def api_token_create(*, actor: User, name: str) -> tuple[ApiToken, str]:
    raw = ApiToken.new_secret()
    token = ApiToken.objects.create(
        user=actor, name=name[:100], prefix=raw[4:12], digest=ApiToken.digest_of(raw)
    )
    audit_record(
        action=EventAction.TOKEN_CHANGE, actor=actor, obj=token, detail={"change": "created"}
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> None:
    token = ApiToken.objects.filter(pk=token_id, user=actor, revoked_at__isnull=True).first()
    if token is None:
        from django.http import Http404

        raise Http404
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        action=EventAction.TOKEN_CHANGE, actor=actor, obj=token, detail={"change": "revoked"}
    )
