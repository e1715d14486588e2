"""Sign-in, sign-out and second-factor enrolment, each audited."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.auth import authenticate, logout, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from prepare.access.abilities import may_end_sessions_of, password_sign_in_allowed
from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk
from prepare.accounts import factors
from prepare.accounts.credentials import (
    CredentialsEnded,
    credentials_end,
    live_digests,
    session_forget,
    session_rekeyed,
)
from prepare.accounts.middleware import is_verified
from prepare.accounts.models import ApiToken, RevokedBecause, SignedInSession, StoredSession, User
from prepare.accounts.second_factor import complete_sign_in
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record


class SignInRefused(Exception):
    """Wrong username, password or code; deliberately says no more than that."""


class SingleSignOnRequired(Exception):
    """The right password, but the user's organisation requires its own sign-in."""


def confirmed_totp(user: User, *, lock: bool = False) -> TOTPDevice | None:
    devices = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")
    if lock:
        # Two requests carrying the same code take turns on the device row,
        # so the second sees the first one's ``last_t`` and is refused (no
        # replay, even concurrently).
        devices = devices.select_for_update()
    return devices.first()


def step_up_verified(user: User, code: str) -> bool:
    """Whether ``code`` is a fresh one-time code of one of the user's authenticator apps.

    Asked again, on top of the session's second factor, before a grave action
    (SECURITY.md AC-07: erasure, break-glass). Only an authenticator app's
    code will do: not a passkey (the grave actions' forms carry no WebAuthn
    ceremony) and not a recovery code (kept for a lost phone). See decision
    "passkeys and recovery codes". A code is good once: the device's
    ``last_t`` refuses a replay, also within the same session. In the demo
    with ``PREPARE_DEMO_SKIP_MFA`` the code is not checked, as at sign-in.

    Not atomic with the caller: a wrong code must still count against the
    device's throttle when the caller's change is refused.
    """
    if settings.DEMO and settings.DEMO_SKIP_MFA:
        return True
    typed = factors.normalised_code(code)
    if not typed.isdigit():
        return False
    device = factors.code_device(user, typed)
    return isinstance(device, TOTPDevice)


def _any_factor(user: User) -> Device | None:
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        or WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk").first()
    )


def sign_in(request: HttpRequest, *, username: str, password: str, code: str) -> User:
    """Check the password and, when typed with it, the second factor's code.

    With a code (an authenticator app's, or a recovery code) the user is
    signed in at once, as before passkeys. Without one, a user who has a
    second factor is *not* signed in: the caller hands them to the second
    step (``second_factor.begin_second_factor``: passkey, code or recovery
    code). A user without any second factor gets a session that can only
    reach the enrolment page.

    A wrong password, a wrong or replayed code, an unknown user and a locked
    account all raise the same ``SignInRefused`` and (except the last) count
    towards the lock-out.

    Not atomic on purpose: the refusal's audit events, the lock-out counter
    and the device's throttle must survive the exception; the caller answers
    normally so that the request's transaction commits them.
    """
    user = authenticate(request, username=username, password=password)
    if user is None:
        refuse_sign_in(request, username=username, stage="password")
    assert isinstance(user, User)
    if not password_sign_in_allowed(user):
        # Said only after the right password: nobody learns from it which
        # accounts exist or which organisation they belong to.
        audit_record(
            action=EventAction.LOGIN_FAILED,
            actor=user,
            outcome=Outcome.DENIED,
            detail={"stage": "password", "refused": "single_sign_on_required"},
        )
        raise SingleSignOnRequired
    skip = settings.DEMO and settings.DEMO_SKIP_MFA
    device: Device | None
    if skip:
        device = _any_factor(user)
    elif not code.strip():
        if factors.has_factor(user):
            return user
        device = None
    else:
        device = factors.code_device(user, code)
        if device is None and factors.has_factor(user):
            # Django only signals failures of the password; a wrong code must
            # count towards the lock-out just the same.
            user_login_failed.send(
                sender=__name__, credentials={"username": username}, request=request
            )
            refuse_sign_in(request, username=username, stage="code", user=user)
    extra = {"demo_code_not_checked": True} if skip and device is not None else {}
    complete_sign_in(request, user, device=device, via="", method="", **extra)
    return user


def refuse_sign_in(
    request: HttpRequest,
    *,
    username: str,
    stage: str,
    user: User | None = None,
    detail: Mapping[str, Any] | None = None,
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
            detail={"stage": stage, "failures": counted, **(detail or {})},
        )
    if locked:
        # Either this failure reached the limit, or the account was already
        # locked and the credentials were not even checked.
        audit_record(
            action=EventAction.LOCKED_OUT,
            actor=user,
            username=username,
            outcome=Outcome.DENIED,
            detail={"stage": stage if counted is not None else "locked", **(detail or {})},
        )
    raise SignInRefused


def session_end(request: HttpRequest, *, reason: str = "user") -> None:
    """Sign out: the session is deleted from the store, not just forgotten."""
    user = request.user
    if user.is_authenticated:
        audit_record(action=EventAction.LOGOUT, actor=user, detail={"reason": reason})
    session_forget(request.session.session_key)
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
def totp_enrol_confirm(request: HttpRequest, *, user: User, code: str, name: str = "") -> bool:
    """Confirm the pending app with a code from it. Audited.

    For a new account (the session not yet verified) it is the first factor
    and the session becomes verified with a new key. For a verified session
    it is one more app beside the others, named ``name``.
    """
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None or not device.verify_token(code.replace(" ", "")):
        return False
    first = not is_verified(request)
    TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.name = name.strip()[:64] or _("Authenticator app")
    device.save(update_fields=["confirmed", "name"])
    if first:
        otp_login(request, device)
        # The session gains privileges: give it a new key (no fixation).
        old_key = request.session.session_key
        request.session.cycle_key()
        session_rekeyed(old_key=old_key, new_key=request.session.session_key)
    factors.totp_added(request, actor=user, device=device, first=first)
    return True


@transaction.atomic
def api_token_create(*, actor: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """A new token valid for ``days`` (default ``API_TOKEN_DEFAULT_DAYS``, at
    most ``API_TOKEN_MAX_DAYS``); the secret is returned once, never stored."""
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError({"days": _("Choose a validity between 1 day and 1 year.")})
    raw = ApiToken.new_secret()
    token = ApiToken(
        user=actor,
        name=name[:100],
        prefix=raw[4:12],
        digest=ApiToken.digest_of(raw),
        expires_at=timezone.now() + datetime.timedelta(days=days),
    )
    token.full_clean()
    token.save()
    audit_record(
        action=EventAction.TOKEN_CHANGE,
        actor=actor,
        obj=token,
        detail={"change": "created", "days": days},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int) -> None:
    token = ApiToken.objects.filter(pk=token_id, user=actor, revoked_at__isnull=True).first()
    if token is None:
        raise NotVisible
    token.revoked_at = timezone.now()
    token.revoked_because = RevokedBecause.USER
    token.save(update_fields=["revoked_at", "revoked_because"])
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


# --- Password and sessions ------------------------------------------------------------


class WrongPassword(Exception):
    """The current password given to change it is not right."""


def password_change(
    request: HttpRequest, *, actor: User, current_password: str, new_password: str
) -> CredentialsEnded:
    """Change the actor's own password; their other sessions end, their API
    tokens are revoked and they are told by e-mail (``credentials_end``).

    A wrong current password raises ``WrongPassword`` after an audited
    refusal that stays (this part is not atomic); a new password that the
    validators refuse raises ``ValidationError`` and changes nothing.
    """
    if not actor.check_password(current_password):
        audit_record(
            action=EventAction.PASSWORD_CHANGE,
            actor=actor,
            outcome=Outcome.DENIED,
            detail={"stage": "current_password"},
        )
        raise WrongPassword
    return _password_set(request, actor=actor, new_password=new_password)


@transaction.atomic
def _password_set(request: HttpRequest, *, actor: User, new_password: str) -> CredentialsEnded:
    validate_password(new_password, user=actor)
    user = User.objects.select_for_update().get(pk=actor.pk)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    actor.password = user.password
    # This session stays signed in, under a new key; the others end.
    old_key = request.session.session_key
    update_session_auth_hash(request, user)
    session_rekeyed(old_key=old_key, new_key=request.session.session_key)
    ended = credentials_end(
        user=user,
        reason=RevokedBecause.PASSWORD_CHANGE,
        keep_session_key=request.session.session_key,
    )
    audit_record(
        action=EventAction.PASSWORD_CHANGE,
        actor=actor,
        obj=user,
        detail={"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens},
    )
    return ended


@transaction.atomic
def session_end_one(request: HttpRequest, *, actor: User, session_id: int) -> bool:
    """End one of the actor's own sessions, by its row in the list. Ending the
    current one signs out (returns True). Someone else's or an ended one: 404."""
    if parse_pk(session_id) is None:
        raise NotVisible
    row = SignedInSession.objects.filter(pk=session_id, user=actor).first()
    key = live_digests(actor.pk).get(row.key_digest) if row is not None else None
    if row is None or key is None:
        raise NotVisible
    if key == request.session.session_key:
        session_end(request, reason="user")
        return True
    audit_record(
        action=EventAction.SESSION_END,
        actor=actor,
        obj=row,
        detail={"reason": RevokedBecause.USER, "sessions_ended": 1},
    )
    StoredSession.objects.filter(session_key=key).delete()
    row.delete()
    return False


@transaction.atomic
def sessions_end_for(*, actor: User, user_id: int) -> CredentialsEnded:
    """An administrator ends all of a user's sessions and revokes their tokens
    (a lost device, a departure, a suspected takeover). Audited with the counts."""
    if parse_pk(user_id) is None or not may_end_sessions_of(actor, user_id) or actor.pk == user_id:
        raise NotVisible
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotVisible
    ended = credentials_end(user=user, reason=RevokedBecause.ADMINISTRATOR)
    audit_record(
        action=EventAction.SESSION_END,
        actor=actor,
        obj=user,
        detail={
            "reason": RevokedBecause.ADMINISTRATOR,
            "sessions_ended": ended.sessions,
            "tokens_revoked": ended.tokens,
        },
    )
    return ended


def organisation_credentials_end(*, organisation_id: int, reason: str) -> int:
    """End the sessions and API tokens of every user of an organisation (its
    deactivation); the number of tokens revoked. Three statements whatever the
    number of people, in the caller's transaction, whose one audit event
    records the change. ``ActiveOrganisationBackend`` and the token
    authentication refuse them on the next request anyway."""
    owned = {"user__organisation_id": organisation_id}
    StoredSession.objects.filter(**owned).delete()
    SignedInSession.objects.filter(**owned).delete()
    return ApiToken.objects.filter(revoked_at__isnull=True, **owned).update(
        revoked_at=timezone.now(), revoked_because=reason
    )
