"""Managing accounts: change of role or organisation, deactivation, reactivation.

Each write is one transaction and one audit event (a permission change naming
the fields and identifiers, never anything else), and is told to the person:
in-app at once, by e-mail in their language after the commit. Who may do what
is decided in ``prepare.access`` (``account_for``, ``may_change_account``,
``assignable_roles``, ``may_move_accounts``); the rules that depend on the
state of the installation (the last administrator) are checked here.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.mail.message import EmailMessage
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepare.access.abilities import assignable_roles, may_move_accounts
from prepare.access.errors import WriteForbidden
from prepare.access.policy import account_for, forget_grants
from prepare.accounts.credentials import credentials_end
from prepare.accounts.models import Invitation, Organisation, RevokedBecause, Role, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.notifications.models import CalendarFeedToken, Notification, NotificationKind

logger = logging.getLogger(__name__)


class AccountState(models.TextChoices):
    ACTIVE = "active", gettext_lazy("Active")
    INVITED = "invited", gettext_lazy("Invited")
    EXPIRED = "expired", gettext_lazy("Invitation expired")
    NOT_ENROLLED = "not_enrolled", gettext_lazy("Invitation withdrawn")
    DEACTIVATED = "deactivated", gettext_lazy("Deactivated")


def account_state(
    account: User, *, invitation_expires_at: datetime.datetime | None, now: datetime.datetime
) -> str:
    """Where the account stands. ``invitation_expires_at``: the deadline of its open
    invitation, if it has one."""
    if account.is_active:
        return AccountState.ACTIVE
    if invitation_expires_at is not None:
        return AccountState.INVITED if invitation_expires_at > now else AccountState.EXPIRED
    if not account.has_usable_password():
        return AccountState.NOT_ENROLLED
    return AccountState.DEACTIVATED


# --- Credentials ----------------------------------------------------------------------


def account_credentials_end(*, user: User, reason: str) -> dict[str, int]:
    """End everything that lets the person in, at once: their browser sessions
    are deleted from the store and their API tokens revoked
    (``credentials_end``), and their calendar feed addresses revoked. Part of
    the caller's audit event (the counts)."""
    ended = credentials_end(user=user, reason=reason)
    feeds = CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return {"sessions": ended.sessions, "api_tokens": ended.tokens, "calendar_feeds": feeds}


# --- Writes -----------------------------------------------------------------------------


@transaction.atomic
def account_update(
    *,
    actor: User,
    account_id: int,
    role: str | None = None,
    organisation: Organisation | None = None,
    manages_accounts: bool | None = None,
) -> list[str]:
    """Change the account's role, organisation or account-manager flag (``None``:
    unchanged); the names of the fields changed. Nothing changed, nothing logged.

    Refused (403) beyond the actor's powers: a role they may not give, a move to
    another organisation by anyone but the administrator, their own account.
    The last active administrator keeps their role (400).
    """
    account = account_for(actor, account_id, change=True)
    before = {
        "role": account.role,
        "organisation": account.organisation_id,
        "manages_accounts": account.manages_accounts,
    }
    if role is not None and role != account.role:
        if role not in assignable_roles(actor):
            raise WriteForbidden(_("You may not give this role."))
        if account.role == Role.ADMINISTRATOR:
            _ensure_another_administrator(account)
        account.role = role
    if organisation is not None and organisation.pk != account.organisation_id:
        if not may_move_accounts(actor):
            raise WriteForbidden(
                _("Only the administrator moves an account to another organisation.")
            )
        if not organisation.is_active:
            raise ValidationError(
                {"organisation": _("This organisation is no longer active.")}, code="inactive"
            )
        account.organisation = organisation
    if manages_accounts is not None:
        account.manages_accounts = manages_accounts
    after = {
        "role": account.role,
        "organisation": account.organisation_id,
        "manages_accounts": account.manages_accounts,
    }
    changed = sorted(name for name in after if after[name] != before[name])
    if not changed:
        return []
    account.full_clean(validate_unique=False, validate_constraints=False)
    account.save(update_fields=changed)
    forget_grants(account)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=account,
        detail={
            "change": "updated",
            "changed": changed,
            "before": {k: before[k] for k in changed},
            "after": {k: after[k] for k in changed},
        },
    )
    organisation_name = account.organisation.name if account.organisation else ""
    notices: list[tuple[str, dict[str, Any]]] = []
    if "role" in changed:
        notices.append(("account_role_changed", {"role": account.role}))
    if "organisation" in changed:
        notices.append(("account_organisation_changed", {"organisation": organisation_name}))
    if "manages_accounts" in changed:
        key = "account_manager_granted" if account.manages_accounts else "account_manager_withdrawn"
        notices.append((key, {"organisation": organisation_name}))
    _tell(account, notices)
    return changed


@transaction.atomic
def account_deactivate(*, actor: User, account_id: int) -> User:
    """Switch the account off now: its sessions and tokens stop working on the
    next request. A pending invitation is withdrawn (its link stops working).
    The last active administrator cannot be deactivated."""
    account = account_for(actor, account_id, change=True)
    withdrawn = list(
        Invitation.objects.select_for_update()
        .filter(user=account)
        .open()
        .values_list("pk", flat=True)
    )
    if not account.is_active and not withdrawn:
        raise ValidationError(_("This account is already deactivated."), code="inactive")
    if account.role == Role.ADMINISTRATOR and account.is_active:
        _ensure_another_administrator(account)
    was_active = account.is_active
    Invitation.objects.filter(pk__in=withdrawn).update(revoked_at=timezone.now())
    account.is_active = False
    account.save(update_fields=["is_active"])
    ended = account_credentials_end(user=account, reason=RevokedBecause.DEACTIVATION)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=account,
        detail={"change": "deactivated", "invitations_withdrawn": withdrawn, **ended},
    )
    if was_active:
        _tell(account, [("account_deactivated", {})])
    return account


@transaction.atomic
def account_reactivate(*, actor: User, account_id: int) -> User:
    """Switch a deactivated account on again, with its password and
    authenticator as they were. An account that never enrolled is invited
    again instead (re-send)."""
    account = account_for(actor, account_id, change=True)
    if account.is_active:
        raise ValidationError(_("This account is already active."), code="active")
    if not account.has_usable_password():
        raise ValidationError(
            _("This person never set up their account: re-send the invitation instead."),
            code="not_enrolled",
        )
    account.is_active = True
    account.save(update_fields=["is_active"])
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=account,
        detail={"change": "reactivated"},
    )
    _tell(account, [("account_reactivated", {})])
    return account


def _ensure_another_administrator(account: User) -> None:
    """Refuse to take the last active administrator away. The administrators'
    rows are locked, so two administrators switching each other off at the same
    moment are serialised and one of them stays."""
    others = list(
        User.objects.select_for_update()
        .filter(role=Role.ADMINISTRATOR, is_active=True)
        .exclude(pk=account.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not others:
        raise ValidationError(
            _("This is the last active administrator: make someone else administrator first."),
            code="last_administrator",
        )


# --- Telling the person ---------------------------------------------------------------


def _tell(account: User, notices: list[tuple[str, dict[str, Any]]]) -> None:
    """One notification per change, and its e-mail after the commit."""
    if not notices:
        return
    stamp = uuid.uuid4().hex
    created = Notification.objects.bulk_create(
        Notification(
            user=account,
            kind=NotificationKind.ACCOUNT,
            message_key=key,
            params=params,
            url=reverse("accounts:preferences"),
            dedupe_key=f"account:{key}:{stamp}",
        )
        for key, params in notices
    )
    ids = [n.pk for n in created if n.pk is not None]
    if not ids:  # backends that do not return the keys of a bulk insert
        ids = list(
            Notification.objects.filter(user=account, dedupe_key__endswith=stamp).values_list(
                "pk", flat=True
            )
        )
    transaction.on_commit(lambda: account_mails_send(ids))


def account_mails_send(notification_ids: list[int]) -> int:
    """E-mail each account notice to its person, in their language, whether or
    not the account is active (a deactivated person is told too)."""
    rows = (
        Notification.objects.filter(pk__in=notification_ids)
        .exclude(user__email="")
        .select_related("user")
        .order_by("pk")
    )
    messages = []
    for notice in rows:
        with translation.override(notice.user.language or settings.LANGUAGE_CODE):
            text = notice.text
            messages.append(
                EmailMessage(
                    subject=f"[PREPARE] {text}",
                    body=_(
                        "%(text)s\n\nIf you did not expect this change, tell whoever "
                        "manages accounts at your organisation, or the administrator of "
                        "PREPARE."
                    )
                    % {"text": text},
                    to=[notice.user.email],
                )
            )
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:
        logger.exception("Account e-mails could not be sent (%d messages)", len(messages))
        return 0
