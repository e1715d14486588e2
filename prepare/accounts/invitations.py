"""Inviting a person: an inactive account and a one-time enrolment link.

The account is created inactive, with no usable password, when the person is
invited. The link (``Invitation``, of which only a keyed digest is stored)
leads to one page where they choose a password and confirm an authenticator;
``invitation_accept`` sets both and activates the account in one transaction,
so an account is never half-enrolled: it is either unusable or complete. An
unused link expires (``INVITATION_HOURS``); re-sending replaces it. The
scheduled ``invitations_lapse`` removes the pending authenticator secret of
expired links and deletes, after ``INVITATION_PURGE_DAYS``, accounts that
never enrolled. See docs/decisions (accounts and enrolment links).
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, ProtectedError
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.abilities import assignable_roles, may_manage_accounts
from prepare.access.errors import WriteForbidden
from prepare.access.policy import account_for
from prepare.accounts.models import Invitation, Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record

logger = logging.getLogger(__name__)

# What ``Invitation.new_token`` makes: a UUID, in its canonical form.
TOKEN_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
BATCH = 500


class InvitationUnusable(Exception):
    """The link cannot be used: ``state`` says why ("unknown" for a token that
    does not exist or is malformed, which the page does not tell apart)."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class CodeNotAccepted(Exception):
    """The authenticator code does not match the pending device."""


@dataclass(frozen=True)
class Issued:
    """An invitation just issued; ``token`` is the link's secret, never stored."""

    user: User
    invitation: Invitation
    token: str


def enrolment_path(token: str) -> str:
    return reverse("accounts:enrol", args=[token])


def _canonical(token: Any) -> str:
    return str(token).lower()


# --- Reads -----------------------------------------------------------------------------


def invitation_by_token(token: Any) -> Invitation:
    """The invitation of a link if it can still be used; else ``InvitationUnusable``
    with its state (used, replaced, expired, or unknown)."""
    invitation = None
    token = _canonical(token)
    if TOKEN_SHAPE.fullmatch(token):
        invitation = (
            Invitation.objects.select_related("user", "user__organisation")
            .filter(digest=Invitation.digest_of(token))
            .first()
        )
    if invitation is None:
        raise InvitationUnusable("unknown")
    state = invitation.state()
    if state != "live":
        raise InvitationUnusable(state)
    return invitation


# --- Writes ----------------------------------------------------------------------------


def _issue(*, user: User, actor: User | None, now: datetime.datetime) -> tuple[Invitation, str]:
    token = Invitation.new_token()
    invitation = Invitation.objects.create(
        user=user,
        digest=Invitation.digest_of(token),
        invited_by=actor,
        created_at=now,
        expires_at=now + datetime.timedelta(hours=settings.INVITATION_HOURS),
    )
    return invitation, token


def invitation_issue(*, actor: User, user: User, send: bool = True) -> Issued:
    """An enrolment link for an account just created inactive, without a usable
    password, by another service (the administration's first coordinator),
    mailed after the commit. That service writes the one audit event."""
    invitation, token = _issue(user=user, actor=actor, now=timezone.now())
    if send:
        _send_after_commit(user.pk, token)
    return Issued(user=user, invitation=invitation, token=token)


def _send_after_commit(user_id: int, token: str) -> None:
    transaction.on_commit(lambda: invitation_mail_send(user_id=user_id, token=token))


def invitee_create(
    *,
    email: str,
    first_name: str,
    last_name: str,
    organisation: Organisation,
    role: str,
    manages_accounts: bool = False,
    language: str = "",
) -> User:
    """The account of a person about to be invited, saved inactive and without a
    usable password. The e-mail address is the identity: the username is the
    address in lower case. An address that already has an account (or a pending
    invitation) is refused with a ``ValidationError`` on ``email``. The caller
    checks who may invite, issues the link and writes the one audit event; it
    runs inside the caller's transaction."""
    email = User.objects.normalize_email(email.strip())
    username = email.lower()
    existing = (
        User.objects.filter(email__iexact=email) | User.objects.filter(username__iexact=username)
    ).first()
    if existing is not None:
        _refuse_existing(existing)
    user = User(
        username=username,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        organisation=organisation,
        role=role,
        manages_accounts=manages_accounts,
        language=language,
        is_active=False,
    )
    user.set_unusable_password()
    user.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # Invited at the same moment by someone else: the username is unique.
        raise ValidationError(
            {"email": _("This e-mail address already has an account.")}, code="exists"
        ) from exc
    return user


@transaction.atomic
def invitation_create(
    *,
    actor: User,
    email: str,
    first_name: str,
    last_name: str,
    organisation: Organisation,
    role: str,
    manages_accounts: bool = False,
    language: str = "",
    send: bool = True,
) -> Issued:
    """Create the person's account, inactive, and a link to enrol; e-mail it after
    the commit (``send``). The username is the e-mail address.

    An address that already has an account (or a pending invitation) is refused
    with a ``ValidationError`` on ``email``, never a second account: an import
    run twice invites nobody twice.
    """
    if not may_manage_accounts(actor, organisation.pk):
        raise WriteForbidden(_("You may not manage the accounts of this organisation."))
    if role not in assignable_roles(actor):
        raise WriteForbidden(_("You may not give this role."))
    return invitation_make(
        actor=actor,
        invited_by=actor,
        email=email,
        first_name=first_name,
        last_name=last_name,
        organisation=organisation,
        role=role,
        manages_accounts=manages_accounts,
        language=language,
        send=send,
    )


def invitation_make(
    *,
    actor: User,
    invited_by: User,
    email: str,
    first_name: str,
    last_name: str,
    organisation: Organisation,
    role: str,
    manages_accounts: bool = False,
    language: str = "",
    send: bool = True,
    detail: dict[str, Any] | None = None,
) -> Issued:
    """``invitation_create`` once the caller has decided that ``actor`` may
    invite this person (the staff pages check it there; an approved import,
    which ``invited_by`` proposed, checked it when proposed). In the caller's
    transaction; one audit event, with ``detail`` added."""
    user = invitee_create(
        email=email,
        first_name=first_name,
        last_name=last_name,
        organisation=organisation,
        role=role,
        manages_accounts=manages_accounts,
        language=language,
    )
    invitation, token = _issue(user=user, actor=invited_by, now=timezone.now())
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        obj=user,
        detail={
            "change": "invited",
            "invitation": invitation.pk,
            "organisation": organisation.pk,
            "role": role,
            "manages_accounts": manages_accounts,
            **(detail or {}),
        },
    )
    if send:
        _send_after_commit(user.pk, token)
    return Issued(user=user, invitation=invitation, token=token)


def _refuse_existing(existing: User) -> None:
    pending = not existing.is_active and not existing.has_usable_password()
    message = (
        _("This person is already invited: re-send the invitation from their page instead.")
        if pending
        else _("This e-mail address already has an account.")
    )
    raise ValidationError({"email": message}, code="exists")


@transaction.atomic
def invitation_resend(*, actor: User, account_id: int, send: bool = True) -> Issued:
    """A new link for an account that never enrolled; the previous link stops
    working at once, and the authenticator secret it showed is discarded."""
    account = account_for(actor, account_id, change=True)
    if account.is_active or account.has_usable_password():
        raise ValidationError(
            _("This person has already set up their account: there is nothing to re-send."),
            code="enrolled",
        )
    now = timezone.now()
    replaced = list(
        Invitation.objects.select_for_update()
        .filter(user=account)
        .open()
        .values_list("pk", flat=True)
    )
    Invitation.objects.filter(pk__in=replaced).update(revoked_at=now)
    TOTPDevice.objects.filter(user=account, confirmed=False).delete()
    invitation, token = _issue(user=account, actor=actor, now=now)
    audit_record(
        action=EventAction.TOKEN_CHANGE,
        actor=actor,
        obj=account,
        detail={"change": "invitation_resent", "invitation": invitation.pk, "replaced": replaced},
    )
    if send:
        _send_after_commit(account.pk, token)
    return Issued(user=account, invitation=invitation, token=token)


@transaction.atomic
def invitation_enrol_start(*, invitation: Invitation) -> TOTPDevice:
    """The authenticator the link's page shows: one pending device per account,
    the same on every visit until it is confirmed or the link lapses."""
    user = invitation.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="PREPARE", confirmed=False)
    device.user = user
    return device


def invitation_accept(*, token: Any, password: str, code: str) -> tuple[User, TOTPDevice]:
    """Set the password, confirm the authenticator and activate the account: all
    or nothing, and the link is used up.

    The password is checked first (``AUTH_PASSWORD_VALIDATORS``, raising
    ``ValidationError``), then the code (``CodeNotAccepted``): the code's check
    is kept even when it fails, so that the device's throttle counts wrong
    codes. Only then, in one transaction, is anything written.
    """
    invitation = invitation_by_token(_canonical(token))
    user = invitation.user
    validate_password(password, user)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        accepted = device is not None and device.verify_token((code or "").replace(" ", ""))
    if not accepted or device is None:
        raise CodeNotAccepted
    return _complete(invitation_id=invitation.pk, device=device, password=password)


@transaction.atomic
def _complete(*, invitation_id: int, device: TOTPDevice, password: str) -> tuple[User, TOTPDevice]:
    # Locked and read again: two submissions of the same link, one wins.
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
    if invitation is None or invitation.state() != "live":
        raise InvitationUnusable(invitation.state() if invitation else "unknown")
    user = User.objects.select_for_update().get(pk=invitation.user_id)
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=user,
        obj=user,
        detail={"change": "enrolled", "invitation": invitation.pk, "second_factor": "totp"},
    )
    return user, device


# --- The scheduled task ---------------------------------------------------------------


def invitations_lapse(now: datetime.datetime | None = None) -> dict[str, int]:
    """Make expired links harmless and forget accounts that never enrolled; idempotent.

    1. Each open invitation past its deadline is marked lapsed and its
       account's pending authenticator (whose secret the link's page showed)
       is deleted. The account was never usable; it stays, inactive, for
       ``INVITATION_PURGE_DAYS`` so that the invitation can be re-sent.
    2. An account that never enrolled (no usable password, never signed in)
       and was last invited longer ago than the link's life plus
       ``INVITATION_PURGE_DAYS`` is deleted. One audit event per batch.
    """
    now = now or timezone.now()
    lapsed = _lapse_expired(now)
    purged = _purge_never_enrolled(now)
    return {"lapsed": lapsed, "purged": purged}


def _lapse_expired(now: datetime.datetime) -> int:
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                Invitation.objects.select_for_update(skip_locked=True)
                .open()
                .filter(expires_at__lte=now, lapsed_at__isnull=True)
                .order_by("pk")
                .values_list("pk", "user_id")[:BATCH]
            )
            if not batch:
                return done
            ids = [pk for pk, _user in batch]
            users = sorted({user_id for _pk, user_id in batch})
            Invitation.objects.filter(pk__in=ids).update(lapsed_at=now)
            TOTPDevice.objects.filter(
                user_id__in=users, confirmed=False, user__is_active=False
            ).delete()
            audit_record(
                action=EventAction.PERMISSION_CHANGE,
                detail={"change": "invitations_lapsed", "invitations": ids, "accounts": users},
            )
            done += len(ids)


def _purge_never_enrolled(now: datetime.datetime) -> int:
    horizon = now - datetime.timedelta(
        hours=settings.INVITATION_HOURS, days=settings.INVITATION_PURGE_DAYS
    )
    invitations = Invitation.objects.filter(user=OuterRef("pk"))
    candidates = list(
        User.objects.filter(
            is_active=False,
            last_login__isnull=True,
            password__startswith=UNUSABLE_PASSWORD_PREFIX,
        )
        .filter(Exists(invitations))
        .exclude(Exists(invitations.filter(created_at__gt=horizon)))
        .exclude(Exists(invitations.filter(used_at__isnull=False)))
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    deleted = []
    with transaction.atomic():
        for pk in candidates:
            try:
                with transaction.atomic():
                    User.objects.filter(pk=pk).delete()
            except ProtectedError:
                # Named somewhere that keeps it (a case team): left, inactive.
                continue
            deleted.append(pk)
        if deleted:
            audit_record(
                action=EventAction.DELETE,
                object_type="accounts.user",
                detail={"change": "never_enrolled_purged", "accounts": deleted},
            )
    return len(deleted)


# --- The e-mail ------------------------------------------------------------------------


def invitation_mail_send(*, user_id: int, token: str) -> bool:
    """E-mail the link to the person, in their language. After the commit; a
    failure is logged (the link can be re-sent from the staff page)."""
    user = User.objects.select_related("organisation").filter(pk=user_id).first()
    if user is None or not user.email:
        return False
    invitation = user.invitations.open().first()
    if invitation is None:
        return False
    link = f"{settings.SITE_URL}{enrolment_path(token)}"
    with translation.override(user.language or settings.LANGUAGE_CODE):
        deadline = formats.date_format(timezone.localtime(invitation.expires_at), "DATETIME_FORMAT")
        message = EmailMessage(
            subject=_("[PREPARE] Set up your account"),
            body=_(
                "Hello %(name)s,\n\n"
                "An account in PREPARE has been made for you at %(organisation)s. "
                "To use it, open this link, choose a password and set up an "
                "authenticator app on your phone:\n\n%(link)s\n\n"
                "The link works once, until %(deadline)s. If it has expired, ask "
                "whoever manages accounts at your organisation to send a new one.\n\n"
                "If you did not expect this message, ignore it: nothing happens "
                "without the link."
            )
            % {
                "name": user.get_full_name() or user.email,
                "organisation": user.organisation.name if user.organisation else "PREPARE",
                "link": link,
                "deadline": deadline,
            },
            to=[user.email],
        )
    try:
        return bool(message.send())
    except Exception:
        logger.exception("The invitation e-mail of account %s could not be sent", user_id)
        return False
