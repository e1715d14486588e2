"""Four eyes on what widens access: propose, approve, reject, withdraw.

A change that widens access (a cell gained or raised in a sharing agreement,
a period started earlier or ended later, an import of organisations and
accounts) is proposed with a
fresh one-time code and waits, as an ``AccessChangeRequest``, for a second
approver (another coordinator of the partnership or its data-protection
officer), who approves it with their own fresh code. What narrows access
applies at once. Who may do what is decided in ``prepare.access``.

The code checks and the refusals are not inside these services' own
transactions: a wrong code must count against the device's throttle and be
logged even though the change is refused (the caller answers normally, so
the request's transaction keeps them), as for erasure on request.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.abilities import (
    may_decide_access_change,
    may_propose_access_change,
    may_withdraw_access_change,
)
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    access_change_approvers,
    parse_pk,
    require_access_change_reader,
    require_coordinator,
)
from prepare.accounts.models import User
from prepare.accounts.services import step_up_verified
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record
from prepare.locking import StaleVersion, VersionRequired
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships import services as agreements
from prepare.partnerships.access_changes.kinds import agreement_payload, kind_of
from prepare.partnerships.models import AccessChangeRequest, AccessChangeStatus, SharingAgreement

REASON_MAX_LENGTH = 2000


class StepUpRefused(ValidationError):
    """The one-time code was wrong, already used, or missing."""


class SecondApproverRequired(ValidationError):
    """The proposer tried to approve or reject their own change."""


class StaleAccessChange(ValidationError):
    """What the change applies to changed since it was proposed."""


def _step_up(
    actor: User, code: str, request: AccessChangeRequest | None, obj: Any, step: str
) -> None:
    if step_up_verified(actor, code):
        return
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=obj,
        outcome=Outcome.DENIED,
        detail={
            "step": step,
            "refused": "step_up",
            "access_change": request.pk if request is not None else None,
        },
    )
    raise StepUpRefused(
        {"code": [_("The code is wrong or was used already. Enter the current code.")]},
        code="step_up",
    )


def _notify_approvers(request: AccessChangeRequest) -> None:
    """An in-app notification to everyone who may approve, but the proposer."""
    url = reverse("partnerships:access_change", args=[request.pk])
    name = request.partnership.name if request.partnership is not None else ""
    rows = [
        Notification(
            user_id=user_id,
            kind=NotificationKind.ACCESS_CHANGE,
            message_key="access_change_to_approve" if name else "access_change_to_approve_site",
            params={"partnership": name, "request": request.pk},
            url=url,
            dedupe_key=f"access-change:{request.pk}",
        )
        for user_id in access_change_approvers(request.partnership)
        .exclude(pk=request.proposed_by_id)
        .values_list("pk", flat=True)
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)


def _settle_notifications(request_ids: list[int]) -> None:
    """Decided: the approvers' notifications need no action any more."""
    if request_ids:
        Notification.objects.filter(
            dedupe_key__in=[f"access-change:{pk}" for pk in request_ids], read_at__isnull=True
        ).update(read_at=timezone.now())


def _supersede(actor: User, pending: list[int]) -> None:
    if not pending:
        return
    AccessChangeRequest.objects.filter(pk__in=pending, status=AccessChangeStatus.PENDING).update(
        status=AccessChangeStatus.SUPERSEDED, decided_by=actor, decided_at=timezone.now()
    )
    _settle_notifications(pending)


def access_change_propose(
    *, actor: User, kind: str, partnership_id: int | None, payload: dict[str, Any], base: str
) -> AccessChangeRequest:
    """Store a pending change, notify its approvers, log it. For the kinds'
    own services (``agreement_change_submit``, an import), inside their
    transaction, once they have checked the code and what may be proposed."""
    request = AccessChangeRequest(
        kind=kind, partnership_id=partnership_id, payload=payload, base=base, proposed_by=actor
    )
    request.full_clean()
    request.save()
    request = AccessChangeRequest.objects.select_related("partnership").get(pk=request.pk)
    _notify_approvers(request)
    return request


# --- The sharing agreement -----------------------------------------------------------


@dataclass(frozen=True)
class AgreementEditOutcome:
    # The cells (and period) changed at once: what narrowed access.
    applied: list[dict[str, object]]
    period_applied: bool
    # What widens access, waiting for a second approver (None: nothing widens).
    pending: AccessChangeRequest | None


def agreement_change_submit(
    *,
    actor: User,
    agreement_id: int,
    cells: Mapping[tuple[int, str], str],
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | object | None = agreements.UNCHANGED,
    expected_digest: str,
    code: str = "",
) -> AgreementEditOutcome:
    """A coordinator's edit of an agreement (cells, and its period if given).

    What narrows access (a cell lost or lowered, the period shortened) applies
    at once, logged. What widens it becomes one pending ``AccessChangeRequest``
    (nothing of it applies until a second person approves) and needs the
    proposer's fresh code; an earlier pending change of the same agreement is
    superseded. ``expected_digest`` is ``agreement_digest`` of the agreement the
    edit started from: a stale one is refused (``StaleVersion``) and nothing
    changes.
    """
    if not expected_digest:
        raise VersionRequired
    pk = parse_pk(agreement_id)
    agreement = (
        SharingAgreement.objects.select_related("partnership").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if agreement is None:
        raise NotVisible
    require_coordinator(actor, agreement.partnership_id)
    if not may_propose_access_change(actor, agreement.partnership_id):
        raise WriteForbidden
    start = valid_from or agreement.valid_from
    end = agreement.valid_until if valid_until is agreements.UNCHANGED else valid_until
    assert end is None or isinstance(end, datetime.date)
    current = agreements.agreement_cells(agreement)
    # A stale edit is answered before the code is asked for (checked again under lock).
    if agreements.agreement_digest(agreement, current) != expected_digest:
        raise StaleVersion
    agreements.agreement_change_check(agreement, cells, current, start, end)
    _narrow, widen = agreements.agreement_change_split(agreement, current, cells, start, end)
    if widen:
        _step_up(actor, code, None, agreement, "proposed")
    with transaction.atomic():
        agreement = agreements.agreement_lock(agreement.pk)
        current = agreements.agreement_cells(agreement)
        if agreements.agreement_digest(agreement, current) != expected_digest:
            raise StaleVersion
        narrow, widen = agreements.agreement_change_split(agreement, current, cells, start, end)
        before = (agreement.valid_from, agreement.valid_until)
        applied = agreements.agreement_apply(actor=actor, agreement=agreement, change=narrow)
        period_applied = before != (agreement.valid_from, agreement.valid_until)
        pending_ids = list(
            AccessChangeRequest.objects.filter(
                kind="agreement",
                partnership_id=agreement.partnership_id,
                status=AccessChangeStatus.PENDING,
                payload__agreement=agreement.pk,
            ).values_list("pk", flat=True)
        )
        request = None
        if widen:
            # The payload says "from" as stored after the narrowing applied.
            request = access_change_propose(
                actor=actor,
                kind="agreement",
                partnership_id=agreement.partnership_id,
                payload=agreement_payload(agreement, agreements.agreement_cells(agreement), widen),
                base=agreements.agreement_digest(agreement),
            )
        if widen or applied or period_applied:
            _supersede(actor, pending_ids)
        if request is not None:
            audit_record(
                action=EventAction.PERMISSION_CHANGE,
                actor=actor,
                obj=request,
                detail={
                    "step": "proposed",
                    "access_change": request.pk,
                    "kind": request.kind,
                    "partnership": agreement.partnership_id,
                    "agreement": agreement.pk,
                    "cells": request.payload["cells"],
                    "period": sorted({"valid_from", "valid_until"} & set(request.payload)),
                    "superseded": pending_ids,
                    "step_up": True,
                },
            )
    return AgreementEditOutcome(applied=applied, period_applied=period_applied, pending=request)


# --- Deciding ------------------------------------------------------------------------


def access_change_for(actor: User, request_id: Any) -> AccessChangeRequest:
    """A request its reader may see: 404 for a non-member of its partnership,
    403 for a member who is not one of its approvers."""
    pk = parse_pk(request_id)
    request = (
        AccessChangeRequest.objects.select_related("partnership", "proposed_by", "decided_by")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if request is None:
        raise NotVisible
    require_access_change_reader(actor, request.partnership)
    return request


def _pending_for_decision(actor: User, request_id: Any, step: str) -> AccessChangeRequest:
    request = access_change_for(actor, request_id)
    if request.status != AccessChangeStatus.PENDING:
        raise ValidationError(_("This change was decided already."), code="decided")
    if not may_decide_access_change(actor, request):
        audit_record(
            action=EventAction.PERMISSION_CHANGE,
            actor=actor,
            obj=request,
            outcome=Outcome.DENIED,
            detail={"step": step, "refused": "self_approval", "access_change": request.pk},
        )
        raise SecondApproverRequired(
            _("A second person must decide: you proposed this change yourself."),
            code="second_approver",
        )
    return request


def _decided(request: AccessChangeRequest, actor: User, status: str, reason: str = "") -> None:
    updated = AccessChangeRequest.objects.filter(
        pk=request.pk, status=AccessChangeStatus.PENDING
    ).update(status=status, decided_by=actor, decided_at=timezone.now(), reason=reason)
    if not updated:
        raise ValidationError(_("This change was decided already."), code="decided")
    request.refresh_from_db()
    _settle_notifications([request.pk])


def access_change_approve(*, actor: User, request_id: Any, code: str) -> AccessChangeRequest:
    """Approve someone else's pending change with a fresh code: it applies now,
    if what it changes is as it was when proposed; otherwise it is refused as
    stale (marked superseded, ``StaleAccessChange`` raised after the commit of
    that mark by the caller's transaction)."""
    request = _pending_for_decision(actor, request_id, "approved")
    _step_up(actor, code, request, request, "approved")
    kind = kind_of(request)
    stale = False
    with transaction.atomic():
        locked = (
            AccessChangeRequest.objects.select_for_update()
            .filter(pk=request.pk, status=AccessChangeStatus.PENDING)
            .exists()
        )
        if not locked:
            raise ValidationError(_("This change was decided already."), code="decided")
        detail = {"access_change": request.pk, "kind": request.kind, "step_up": True}
        if kind.fingerprint(request, lock=True) != request.base:
            stale = True
            _decided(request, actor, AccessChangeStatus.SUPERSEDED)
            audit_record(
                action=EventAction.PERMISSION_CHANGE,
                actor=actor,
                obj=request,
                outcome=Outcome.DENIED,
                detail={"step": "approved", "refused": "stale", **detail},
            )
        else:
            _decided(request, actor, AccessChangeStatus.APPROVED)
            audit_record(
                action=EventAction.PERMISSION_CHANGE,
                actor=actor,
                obj=request,
                detail={
                    "step": "approved",
                    "proposed_by": request.proposed_by.username,
                    "partnership": request.partnership_id,
                    **detail,
                },
            )
            kind.apply(actor=actor, request=request)
    if stale:
        raise StaleAccessChange(str(kind.stale_message), code="stale")
    return request


def access_change_reject(*, actor: User, request_id: Any, reason: str) -> AccessChangeRequest:
    """Another approver refuses the change, saying why. Nothing of it applies."""
    request = _pending_for_decision(actor, request_id, "rejected")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the change is rejected.")]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [_("The reason can be at most 2,000 characters long.")]})
    with transaction.atomic():
        _decided(request, actor, AccessChangeStatus.REJECTED, reason)
        audit_record(
            action=EventAction.PERMISSION_CHANGE,
            actor=actor,
            obj=request,
            detail={"step": "rejected", "access_change": request.pk, "kind": request.kind},
        )
    return request


@transaction.atomic
def access_change_withdraw(*, actor: User, request_id: Any) -> AccessChangeRequest:
    """The proposer takes back their pending change."""
    request = access_change_for(actor, request_id)
    if request.status != AccessChangeStatus.PENDING:
        raise ValidationError(_("This change was decided already."), code="decided")
    if not may_withdraw_access_change(actor, request):
        raise WriteForbidden
    _decided(request, actor, AccessChangeStatus.WITHDRAWN)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=request,
        detail={"step": "withdrawn", "access_change": request.pk, "kind": request.kind},
    )
    return request
