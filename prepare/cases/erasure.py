"""Erasure of a closed case on request, with four eyes (SECURITY.md AC-07).

Retention erases or anonymises a case when its period runs out
(``prepare.cases.retention``). Sometimes a case must go sooner: the person
exercised their right to erasure, the referral should never have been made,
a court ordered it. Then one person asks and a second one approves:

- who may ask or approve: the coordinators of the case's partnership (who
  see the case through the policy) and the data-protection officers of its
  coordinating organisation (who do not see cases and name them by reference),
  exactly those who manage its legal holds;
- each of the two confirms with a fresh one-time code (step-up), so that an
  unattended session cannot erase anything;
- the approver must be someone else than the one who asked: a request
  approved by its own author stays pending;
- only a closed or archived case can be erased, never one under a legal
  hold; both are checked when asking and again, under lock, when approving.

The approval erases the case at once with ``retention.case_erase`` (every
table, the request itself included) and leaves a tombstone naming the
request. The audit log keeps who asked, who approved and when, never the
reason's text (it may describe the person).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from prepare.access.policy import grants_for, parse_pk
from prepare.accounts.models import Role, User
from prepare.accounts.services import step_up_verified
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record
from prepare.cases import retention
from prepare.cases.models import Case, ErasureRequest, ErasureStatus, LegalHold
from prepare.notifications.models import Notification, NotificationKind

REASON_MAX_LENGTH = 2000


class StepUpRefused(ValidationError):
    """The one-time code was wrong, already used, or missing."""


class SecondApproverRequired(ValidationError):
    """The person who asked for the erasure tried to approve it."""


def _refuse_step_up(actor: User, case: Case, step: str) -> None:
    # Recorded in the request's transaction: the view answers normally (422),
    # so the event and the device's throttle count are kept.
    audit_record(
        action=EventAction.ERASE,
        actor=actor,
        case=case,
        obj=case,
        outcome=Outcome.DENIED,
        detail={"step": step, "refused": "step_up"},
    )
    raise StepUpRefused(
        {"code": [_("The code is wrong or was used already. Enter the current code.")]},
        code="step_up",
    )


def _pending(request_id: Any, case_id: Any = None) -> ErasureRequest:
    pk = parse_pk(request_id)
    if pk is None:
        raise Http404
    request = (
        ErasureRequest.objects.filter(pk=pk, status=ErasureStatus.PENDING)
        .select_related("requested_by")
        .first()
    )
    if request is None or (case_id is not None and str(request.case_id) != str(case_id)):
        raise Http404
    return request


def _check_erasable(case: Case) -> None:
    if case.status not in retention.RETAINED_STATUSES or case.anonymised_at is not None:
        raise ValidationError(
            _("Only a closed case can be erased. Close the case first."), code="not_closed"
        )
    if LegalHold.objects.filter(
        retention.active_holds(timezone.localdate()), case_id=case.pk
    ).exists():
        raise retention.LegalHoldActive(
            _("The case is under a legal hold: lift the hold before asking for its erasure."),
            code="legal_hold",
        )


def may_request(actor: User, case: Case) -> bool:
    """Whether the case page offers the actor the erasure form (checked again on POST)."""
    return grants_for(actor).coordinates(case.partnership_id) and (
        case.status in retention.RETAINED_STATUSES
    )


def may_decide(actor: User, request: ErasureRequest) -> bool:
    """Whether the actor may approve or refuse ``request`` (someone else's)."""
    return request.requested_by_id != actor.pk


def approvers(case: Case) -> QuerySet[User]:
    """Everyone who may approve an erasure of ``case``: the partnership's
    coordinators and its coordinating organisation's data-protection officers."""
    return User.objects.filter(
        Q(role=Role.COORDINATOR) | Q(role=Role.AUDITOR),
        organisation_id=case.partnership.coordinating_organisation_id,
        organisation__is_active=True,
        is_active=True,
    ).order_by("pk")


def notify_approvers(request: ErasureRequest, case: Case, asker: User) -> None:
    """An in-app notification to everyone who may approve, but the asker."""
    key = f"erasure:{request.pk}"
    rows = []
    for user in approvers(case).exclude(pk=asker.pk):
        if user.role == Role.AUDITOR:
            url = reverse("cases:erasure_requests")
        else:
            url = reverse("cases:case", args=[case.pk]) + "#retention"
        with override(settings.LANGUAGE_CODE):
            title = _("Erasure of %(ref)s to approve") % {"ref": case.reference}
        rows.append(
            Notification(
                user=user,
                kind=NotificationKind.ERASURE,
                case_id=case.pk,
                title=title[:200],
                url=url,
                dedupe_key=key,
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)


def _settle_notifications(request: ErasureRequest) -> None:
    """The request is decided: its notifications need no action any more."""
    Notification.objects.filter(dedupe_key=f"erasure:{request.pk}", read_at__isnull=True).update(
        read_at=timezone.now()
    )


def erasure_request(
    *, actor: User, case_id: Any = None, reference: str = "", reason: str, code: str
) -> ErasureRequest:
    """Ask for the erasure of a closed case; a second person must approve it."""
    case = retention._case_for_hold(actor, case_id=case_id, reference=reference)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the case must be erased now.")]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [_("The reason can be at most 2,000 characters long.")]})
    _check_erasable(case)
    if not step_up_verified(actor, code):
        _refuse_step_up(actor, case, "requested")
    with transaction.atomic():
        case = retention._lock_case(case.pk)
        _check_erasable(case)
        if ErasureRequest.objects.filter(case_id=case.pk, status=ErasureStatus.PENDING).exists():
            raise ValidationError(
                _("An erasure of this case is already waiting for approval."), code="pending"
            )
        request = ErasureRequest.objects.create(case=case, reason=reason, requested_by=actor)
        audit_record(
            action=EventAction.ERASE,
            actor=actor,
            case=case,
            obj=request,
            detail={"step": "requested", "erasure_request": request.pk, "step_up": True},
        )
        notify_approvers(request, case, actor)
    return request


@dataclass(frozen=True)
class ErasureDone:
    reference: str
    removed: dict[str, int]


def erasure_approve(*, actor: User, request_id: Any, case_id: Any = None, code: str) -> ErasureDone:
    """Approve someone else's request: the case is erased now, in this transaction."""
    request = _pending(request_id, case_id)
    case = retention._case_for_hold(actor, case_id=request.case_id)
    if not may_decide(actor, request):
        raise SecondApproverRequired(
            _("A second person must approve: you asked for this erasure yourself."),
            code="second_approver",
        )
    _check_erasable(case)
    if not step_up_verified(actor, code):
        _refuse_step_up(actor, case, "approved")
    with transaction.atomic():
        locked = ErasureRequest.objects.select_for_update().filter(
            pk=request.pk, status=ErasureStatus.PENDING
        )
        if not locked.exists():
            raise Http404  # decided meanwhile
        case = retention._lock_case(case.pk)
        _check_erasable(case)
        audit_record(
            action=EventAction.ERASE,
            actor=actor,
            case=case,
            obj=request,
            detail={
                "step": "approved",
                "erasure_request": request.pk,
                "requested_by": request.requested_by.username,
                "step_up": True,
            },
        )
        _settle_notifications(request)
        reference = case.reference
        removed = retention.case_erase(
            case_id=case.pk, approved_by=actor, erasure_request=request.pk
        )
    return ErasureDone(reference=reference, removed=removed)


@transaction.atomic
def erasure_decline(
    *, actor: User, request_id: Any, case_id: Any = None, reason: str = ""
) -> ErasureRequest:
    """The asker withdraws their request, or another approver refuses it (saying why)."""
    request = _pending(request_id, case_id)
    case = retention._case_for_hold(actor, case_id=request.case_id)
    withdrawing = request.requested_by_id == actor.pk
    reason = (reason or "").strip()
    if not withdrawing and not reason:
        raise ValidationError({"reason": [_("Say why the erasure is refused.")]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [_("The reason can be at most 2,000 characters long.")]})
    status = ErasureStatus.WITHDRAWN if withdrawing else ErasureStatus.REFUSED
    updated = ErasureRequest.objects.filter(pk=request.pk, status=ErasureStatus.PENDING).update(
        status=status, decided_by=actor, decided_at=timezone.now(), decision_reason=reason
    )
    if not updated:
        raise Http404
    request.refresh_from_db()
    audit_record(
        action=EventAction.ERASE,
        actor=actor,
        case=case,
        obj=request,
        detail={"step": status.value, "erasure_request": request.pk},
    )
    _settle_notifications(request)
    return request


def pending_for_case(case: Case) -> ErasureRequest | None:
    return (
        ErasureRequest.objects.filter(case_id=case.pk, status=ErasureStatus.PENDING)
        .select_related("requested_by__organisation")
        .first()
    )


def pending_for_dpo(actor: User) -> list[ErasureRequest]:
    """The pending requests of the partnerships the DPO's organisation coordinates."""
    retention.require_dpo(actor)
    requests = list(
        ErasureRequest.objects.filter(
            status=ErasureStatus.PENDING,
            case__partnership__coordinating_organisation_id=actor.organisation_id,
            case__partnership__coordinating_organisation__is_active=True,
        )
        .select_related("case", "requested_by__organisation")
        .order_by("requested_at", "pk")
    )
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.case_id for r in requests],
        detail={"view": "erasure_requests", "requests": [r.pk for r in requests]},
    )
    return requests


def erasure_check(*, actor: User, case_id: Any) -> Case:
    """404 or 403 before a form is even read, as for legal holds."""
    return retention._case_for_hold(actor, case_id=case_id)
