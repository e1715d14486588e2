"""Sign-in, sign-out and second-factor enrolment, each audited."""

from __future__ import annotations

import time
from typing import NoReturn

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.errors import NotVisible
from prepare.accounts.backends import BACKEND
from prepare.accounts.middleware import SESSION_LAST_SEEN, SESSION_SIGNED_IN_AT, is_verified
from prepare.accounts.models import ApiToken, User
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record


class SignInRefused(Exception):
    """Wrong username, password or code; deliberately says no more than that."""


def confirmed_totp(user: User, *, lock: bool = False) -> TOTPDevice | None:
    devices = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")
    if lock:
        # Two requests carrying the same code take turns on the device row,
        # so the second sees the first one's ``last_t`` and is refused (no
        # replay, even concurrently).
        devices = devices.select_for_update()
    return devices.first()


def step_up_verified(user: User, code: str) -> bool:
    """Whether ``code`` is a fresh one-time code of the user's authenticator.

    Asked again, on top of the session's second factor, before a grave action
    (SECURITY.md AC-07: erasure). A code is good once: the device's ``last_t``
    refuses a replay, also within the same session. In the demo with
    ``PREPARE_DEMO_SKIP_MFA`` the code is not checked, as at sign-in.

    Not atomic with the caller: a wrong code must still count against the
    device's throttle when the caller's change is refused.
    """
    if settings.DEMO and settings.DEMO_SKIP_MFA:
        return True
    with transaction.atomic():
        device = confirmed_totp(user, lock=True)
        return device is not None and bool(device.verify_token((code or "").replace(" ", "")))


def sign_in(request: HttpRequest, *, username: str, password: str, code: str) -> User:
    """Check password and one-time code together and start a verified session.

    A wrong password, a wrong or replayed code, an unknown user and a locked
    account all raise the same ``SignInRefused`` and (except the last) count
    towards the lock-out. A user without a second factor yet gets a session
    that can only reach the enrolment page.

    Not atomic on purpose: the refusal's audit events, the lock-out counter
    and the device's throttle must survive the exception; the caller answers
    normally so that the request's transaction commits them.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        _refuse(request, username=username, stage="password")
    assert isinstance(user, User)
    skip = settings.DEMO and settings.DEMO_SKIP_MFA
    with transaction.atomic():
        device = confirmed_totp(user, lock=True)
        passed = device is None or skip or device.verify_token(code.replace(" ", ""))
    if not passed:
        # Django only signals failures of the password; a wrong code must
        # count towards the lock-out just the same.
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        _refuse(request, username=username, stage="code", user=user)
    login(request, user, backend=BACKEND)
    if device is not None:
        otp_login(request, device)
    now = time.time()
    request.session[SESSION_SIGNED_IN_AT] = now
    request.session[SESSION_LAST_SEEN] = now
    detail = {"second_factor": is_verified(request)}
    if skip and device is not None:
        detail["demo_code_not_checked"] = True
    audit_record(action=EventAction.LOGIN, actor=user, detail=detail)
    return user


def _refuse(
    request: HttpRequest, *, username: str, stage: str, user: User | None = None
) -> NoReturn:
    """Audit a refused attempt and raise.

    The events are written in the request's transaction, which commits: the
    view answers normally with the sign-in page. ``stage`` tells the auditor
    whether the password or the code failed; the user is never told.
    """
    locked = bool(getattr(request, "axes_locked_out", False))
    counted = getattr(request, "axes_failures_since_start", None)
    if counted is not None or not locked:
        audit_record(
            action=EventAction.LOGIN_FAILED,
            actor=user,
            username=username,
            outcome=Outcome.DENIED,
            detail={"stage": stage, "failures": counted},
        )
    if locked:
        # Either this failure reached the limit, or the account was already
        # locked and the credentials were not even checked.
        audit_record(
            action=EventAction.LOCKED_OUT,
            actor=user,
            username=username,
            outcome=Outcome.DENIED,
            detail={"stage": stage if counted is not None else "locked"},
        )
    raise SignInRefused


def session_end(request: HttpRequest, *, reason: str = "user") -> None:
    """Sign out: the session is deleted from the store, not just forgotten."""
    user = request.user
    if user.is_authenticated:
        audit_record(action=EventAction.LOGOUT, actor=user, detail={"reason": reason})
    logout(request)


@transaction.atomic
def totp_enrol_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for the user (reused until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="PREPARE", confirmed=False)
    device.user = user  # the QR code's label needs it; saves a query
    return device


@transaction.atomic
def totp_enrol_confirm(request: HttpRequest, *, user: User, code: str) -> bool:
    """Confirm the pending device with a code from it; the session becomes verified."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None or not device.verify_token(code.replace(" ", "")):
        return False
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    # The session gains privileges: give it a new key (no fixation).
    request.session.cycle_key()
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
        raise NotVisible
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        action=EventAction.TOKEN_CHANGE, actor=actor, obj=token, detail={"change": "revoked"}
    )


@transaction.atomic
def user_preferences_update(*, actor: User, language: str, time_zone: str) -> list[str]:
    """The actor's own language and time zone; the names of the fields changed. Audited."""
    user = User.objects.select_for_update().get(pk=actor.pk)
    user.language, user.time_zone = language, time_zone
    user.full_clean(validate_unique=False, validate_constraints=False)
    changed = [
        name for name in ("language", "time_zone") if getattr(user, name) != getattr(actor, name)
    ]
    if changed:
        user.save(update_fields=changed)
        actor.language, actor.time_zone = user.language, user.time_zone
        audit_record(action=EventAction.UPDATE, actor=actor, obj=user, detail={"changed": changed})
    return changed


def organisation_credentials_end(*, organisation_id: int, reason: str) -> int:
    """End the sessions and API tokens of every user of an organisation; the
    number of tokens revoked. Called inside the caller's transaction, which
    writes the one audit event of the change (with ``reason``).

    Sessions need no look-up here: ``ActiveOrganisationBackend`` refuses the
    users of an inactive organisation on their next request, and the token
    authentication refuses their tokens even before this revocation commits.
    This is the one place to point at the session registry's
    ``credentials_end(user=..., reason=...)`` once it exists.
    """
    del reason  # kept for the registry's signature; the caller's event says why
    return ApiToken.objects.filter(
        user__organisation_id=organisation_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
