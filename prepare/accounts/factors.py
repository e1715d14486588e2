"""A person's second factors: authenticator apps, passkeys and recovery codes.

Each account may hold several authenticator apps (TOTP) and several passkeys,
each named; at least one of them always remains. Recovery codes are a
django-otp static device with ten single-use codes, stored as keyed digests
(see ``recovery_digest``). Every change is audited (``MFA_CHANGE``) and goes
through ``factor_changed``.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from prepare.access.errors import NotVisible
from prepare.accounts import passkeys
from prepare.accounts.credentials import credentials_end
from prepare.accounts.models import RevokedBecause, User
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10
# No 0/o, 1/l/i: read from paper and typed by hand.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_DEVICE_NAME = "recovery codes"


class FactorKind:
    TOTP = "totp"
    PASSKEY = "passkey"


class LastFactor(Exception):
    """Removing this factor would leave the account without a second factor."""


class ConfirmationRefused(Exception):
    """The password typed to confirm a change of factors is not right."""


@dataclass(frozen=True)
class Factor:
    kind: str
    pk: int
    name: str
    created_at: datetime.datetime | None
    last_used_at: datetime.datetime | None


@dataclass(frozen=True)
class Factors:
    """What the sign-in methods page shows, read in three queries."""

    methods: list[Factor]
    recovery_codes_left: int | None  # None: never generated
    recovery_codes_created_at: datetime.datetime | None


def factors_of(user: User) -> Factors:
    fields = ("pk", "name", "created_at", "last_used_at")
    methods = [
        Factor(FactorKind.TOTP, *row)
        for row in TOTPDevice.objects.filter(user=user, confirmed=True)
        .order_by("created_at", "pk")
        .values_list(*fields)
    ] + [
        Factor(FactorKind.PASSKEY, *row)
        for row in WebAuthnCredential.objects.filter(user=user, confirmed=True)
        .order_by("created_at", "pk")
        .values_list(*fields)
    ]
    static = (
        StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME)
        .order_by("-pk")
        .values_list("created_at", "token_set__pk")
    )
    rows = list(static)
    return Factors(
        methods=methods,
        recovery_codes_left=len([pk for _at, pk in rows if pk is not None]) if rows else None,
        recovery_codes_created_at=rows[0][0] if rows else None,
    )


def has_factor(user: User) -> bool:
    """Whether the user has an authenticator app or a passkey (recovery codes alone are not)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    )


def has_passkey(user: User) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def normalised_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch not in " -\t")


def recovery_digest(code: str) -> str:
    """What is stored of a recovery code: a keyed digest, never the code.

    django-otp's static tokens are compared as stored; storing this digest and
    comparing the digest of what was typed keeps single use and throttling
    from the plugin, and a copy of the database alone reveals no code. The key
    derives from ``SECRET_KEY``: replacing it invalidates the codes (people
    generate new ones from the sign-in methods page).
    """
    # 64 bits of an HMAC-SHA256: the plugin's column holds 16 characters.
    return salted_hmac("prepare.recovery-code", normalised_code(code)).hexdigest()[:16]


def code_device(user: User, code: str) -> Device | None:
    """The device that accepts ``code``: one of the user's authenticator apps
    (six digits) or a recovery code (ten characters, then used up); else None.

    The devices are locked while checked: the same code sent twice at once is
    accepted once (the app's ``last_t``, the recovery code's deletion). A
    wrong code counts against the devices' throttles; it must be called
    outside the caller's failing transaction for that to stick.
    """
    typed = normalised_code(code)
    with transaction.atomic():
        if typed.isdigit():
            for device in (
                TOTPDevice.objects.select_for_update()
                .filter(user=user, confirmed=True)
                .order_by("pk")
            ):
                if device.verify_token(typed):
                    return device
        elif len(typed) == RECOVERY_CODE_LENGTH:
            static = (
                StaticDevice.objects.select_for_update()
                .filter(user=user, confirmed=True, name=RECOVERY_DEVICE_NAME)
                .first()
            )
            if static is not None and static.verify_token(recovery_digest(typed)):
                return static
    return None


def confirm_password(request: HttpRequest, *, user: User, password: str) -> None:
    """A fresh confirmation before a change of factors; raises ``ConfirmationRefused``.

    A wrong password counts towards the lock-out like one at sign-in: a
    stolen session must not become a way to guess the password.
    """
    if user.check_password(password or ""):
        return
    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )
    raise ConfirmationRefused


def factor_changed(request: HttpRequest | None, user: User, change: str) -> None:
    """Everything that follows a change of the user's second factors.

    The person's other sessions end (``credentials_end``; the one making the
    change stays signed in; from a command, ``request`` is None and every
    session ends), and the person is e-mailed after the commit, in their
    language, so that a change they did not make does not go unnoticed. API
    tokens stay: they do not depend on the second factor.
    """
    session = getattr(request, "session", None)
    keep = session.session_key if session is not None else None
    credentials_end(
        user=user, reason=RevokedBecause.FACTOR_CHANGE, keep_session_key=keep, tokens=False
    )
    if not user.email:
        return
    email, language = user.email, user.language or settings.LANGUAGE_CODE
    texts = {
        "totp_added": _("An authenticator app was added to your PREPARE account."),
        "passkey_added": _("A passkey was added to your PREPARE account."),
        "totp_removed": _("An authenticator app was removed from your PREPARE account."),
        "passkey_removed": _("A passkey was removed from your PREPARE account."),
        "recovery_codes_generated": _("New recovery codes were made for your PREPARE account."),
        "factors_reset": _(
            "An administrator removed the second factors of your PREPARE account; you will "
            "set up a new one when you next sign in."
        ),
    }

    def send() -> None:
        with translation.override(language):
            subject = _("PREPARE: your sign-in methods changed")
            body = "\n\n".join(
                [
                    str(texts.get(change, _("Your PREPARE sign-in methods changed."))),
                    _("Your other sessions were ended: sign in again where you need to."),
                    _(
                        "If it was not you, tell your administrator at once: someone "
                        "may be using your account."
                    ),
                ]
            )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])

    transaction.on_commit(send)


def _audit(user: User, change: str, **detail: object) -> None:
    audit_record(
        action=EventAction.MFA_CHANGE, actor=user, obj=user, detail={"change": change, **detail}
    )


def audit_refused(user: User, change: str, reason: str) -> None:
    audit_record(
        action=EventAction.MFA_CHANGE,
        actor=user,
        obj=user,
        outcome=Outcome.DENIED,
        detail={"change": change, "reason": reason},
    )


@transaction.atomic
def passkey_add(request: HttpRequest, *, actor: User, name: str, answer: str) -> WebAuthnCredential:
    """Verify the browser's new passkey and keep it under ``name``. Raises ``PasskeyRefused``."""
    credential = passkeys.registration_verify(request, user=actor, answer=answer)
    credential.name = name.strip()[:64] or _("Passkey")
    credential.full_clean(exclude=["credential_id", "public_key", "user"])
    credential.save(update_fields=["name"])
    _audit(actor, "passkey_added", device=credential.pk)
    factor_changed(request, actor, "passkey_added")
    return credential


def totp_added(request: HttpRequest, *, actor: User, device: TOTPDevice, first: bool) -> None:
    """Audit a confirmed authenticator app (called in the confirming service)."""
    if first:
        # The account's first factor, set up right after the password.
        audit_record(
            action=EventAction.MFA_CHANGE, actor=actor, detail={"change": "totp_confirmed"}
        )
        return
    _audit(actor, "totp_added", device=device.pk)
    factor_changed(request, actor, "totp_added")


def factor_remove(request: HttpRequest, *, actor: User, kind: str, pk: int) -> None:
    """Remove one of the actor's own apps or passkeys; never the last of them.

    Someone else's factor, or one that does not exist, is ``NotVisible``;
    the last one raises ``LastFactor``, and the refusal is audited.
    """
    try:
        _factor_remove(request, actor=actor, kind=kind, pk=pk)
    except LastFactor:
        audit_refused(actor, f"{kind}_removed", "last_factor")
        raise


@transaction.atomic
def _factor_remove(request: HttpRequest, *, actor: User, kind: str, pk: int) -> None:
    # The user's rows are locked first, so that two removals at once cannot
    # both see "one more left".
    totp = list(
        TOTPDevice.objects.select_for_update().filter(user=actor, confirmed=True).order_by("pk")
    )
    keys = list(
        WebAuthnCredential.objects.select_for_update()
        .filter(user=actor, confirmed=True)
        .order_by("pk")
    )
    pool: list[Device] = list(totp) if kind == FactorKind.TOTP else list(keys)
    if kind not in (FactorKind.TOTP, FactorKind.PASSKEY):
        raise NotVisible
    device = next((d for d in pool if d.pk == pk), None)
    if device is None:
        raise NotVisible
    if len(totp) + len(keys) <= 1:
        raise LastFactor
    device.delete()
    _audit(actor, f"{kind}_removed", device=pk)
    factor_changed(request, actor, f"{kind}_removed")


def _new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def shown(code: str) -> str:
    """``abcdefghjk`` -> ``abcde-fghjk``, easier to read from paper."""
    half = RECOVERY_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


@transaction.atomic
def recovery_codes_generate(request: HttpRequest, *, actor: User) -> list[str]:
    """Ten new single-use codes, replacing any earlier ones; shown once, stored as digests."""
    StaticDevice.objects.filter(user=actor).delete()
    device = StaticDevice.objects.create(user=actor, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=recovery_digest(code)) for code in codes]
    )
    _audit(actor, "recovery_codes_generated", count=RECOVERY_CODE_COUNT)
    factor_changed(request, actor, "recovery_codes_generated")
    return [shown(code) for code in codes]


@transaction.atomic
def factors_reset(*, actor: User | None, user: User) -> int:
    """An administrator's reset: every factor and recovery code of ``user`` removed.

    The person then sets up a new authenticator app at their next sign-in
    (with the password alone, as a new account does). Returns how many
    devices went.
    """
    removed = 0
    for model in (TOTPDevice, WebAuthnCredential, StaticDevice):
        count, _rows = model.objects.filter(user=user).delete()
        removed += count
    audit_record(
        action=EventAction.MFA_CHANGE,
        actor=actor,
        obj=user,
        detail={"change": "factors_reset", "user": user.pk},
    )
    factor_changed(None, user, "factors_reset")
    return removed
