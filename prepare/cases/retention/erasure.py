"""Erasure and anonymisation of a case, and erasure on request with four eyes
(one asks, a second person approves, each with a fresh one-time code)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.abilities import may_decide_erasure
from prepare.access.errors import NotVisible
from prepare.access.policy import (
    is_data_protection_officer,
    oversight_users,
    parse_pk,
)
from prepare.accounts.models import User
from prepare.accounts.services import step_up_verified
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record
from prepare.cases.models import Case, ErasureRequest, ErasureStatus, LegalHold, Person
from prepare.cases.retention import selectors as retention_selectors
from prepare.cases.retention.selectors import KEPT_TABLES, SYSTEM_ACTOR, active_holds
from prepare.documents.services import case_files_forget
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import RetentionAction


class LegalHoldActive(ValidationError):
    """The case is under a legal hold: it may be neither erased nor anonymised."""


# --- Where a case's data lives -------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """A column that ties rows of ``model`` to a case (or a person)."""

    model: type[models.Model]
    column: str  # a field name usable in ``filter(**{column: pk})``

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


def bindings_to(target: type[models.Model], *, plain_id: str = "") -> list[Binding]:
    """Every column of every installed model that refers to ``target``.

    Foreign keys (and one-to-ones, many-to-many through tables) whatever
    their ``on_delete``, since SET_NULL or DO_NOTHING would leave the row and
    its text behind; and, with ``plain_id``, integer columns of that name that
    store the id without a constraint (e.g. ``Notification.case_id``). The
    audit tables are left out on purpose (``KEPT_TABLES``).
    """
    found: list[Binding] = []
    for model in apps.get_models(include_auto_created=True):
        if model is target or model._meta.label_lower in KEPT_TABLES:
            continue
        for f in model._meta.concrete_fields:
            refers = f.is_relation and f.related_model is target
            plain = (
                bool(plain_id)
                and not f.is_relation
                and f.name == plain_id
                and isinstance(f, models.IntegerField)
            )
            if refers or plain:
                found.append(Binding(model, f.name))
    return found


def _purge(bindings: list[Binding], pk: int) -> dict[str, int]:
    """Delete every row bound to ``pk``; rows that protect each other go in turn."""
    removed: dict[str, int] = {}
    pending = list(bindings)
    while pending:
        blocked: list[Binding] = []
        error: Exception | None = None
        for binding in pending:
            rows = binding.model._base_manager.filter(**{binding.column: pk})
            try:
                _, per_model = rows.delete()
            except (ProtectedError, RestrictedError) as exc:
                blocked.append(binding)
                error = exc
                continue
            for label, count in per_model.items():
                if count:
                    removed[label.lower()] = removed.get(label.lower(), 0) + count
        if len(blocked) == len(pending):
            assert error is not None
            raise error
        pending = blocked
    return removed


def _erase_person_if_unused(person_id: int) -> dict[str, int]:
    if Case.objects.filter(person_id=person_id).exists():
        return {}
    removed = _purge(bindings_to(Person), person_id)
    count, _ = Person.objects.filter(pk=person_id).delete()
    if count:
        removed["cases.person"] = removed.get("cases.person", 0) + count
    return removed


def _lock_case(case_id: int) -> Case:
    case = (
        Case.objects.select_for_update()
        .select_related("partnership", "person")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise Case.DoesNotExist
    return case


def _refuse_if_held(case: Case, on: datetime.date) -> None:
    if LegalHold.objects.filter(active_holds(on), case_id=case.pk).exists():
        raise LegalHoldActive(_("The case is under a legal hold."), code="legal_hold")


def _retention_detail(case: Case) -> dict[str, Any]:
    return {"partnership": case.partnership_id, "years": case.partnership.retention_years}


@transaction.atomic
def case_erase(
    *,
    case_id: int,
    today: datetime.date | None = None,
    approved_by: User | None = None,
    erasure_request: int | None = None,
) -> dict[str, int]:
    """Remove the case's data from every table; leave a data-free tombstone.

    Called by ``retention_run`` (a system operation) or by the approval of an
    erasure request (``prepare.cases.retention.erasure``), which checked the people
    first; here only the legal holds are checked. Returns the number of rows
    removed per table.
    """
    on = today or timezone.localdate()
    case = _lock_case(case_id)
    _refuse_if_held(case, on)
    person_id = case.person_id
    # The files leave the storage once this commits; their rows go with the rest.
    files = case_files_forget(case_id=case.pk)
    removed = _purge(bindings_to(Case, plain_id="case_id"), case.pk)
    Case.objects.filter(pk=case.pk).delete()
    removed["cases.case"] = 1
    for label, count in _erase_person_if_unused(person_id).items():
        removed[label] = removed.get(label, 0) + count
    detail: dict[str, Any] = {
        "action": RetentionAction.ERASE.value,
        "retention": _retention_detail(case),
        "removed": dict(sorted(removed.items())),
    }
    if files:
        detail["files"] = len(files)
    if erasure_request is not None:
        detail["erasure_request"] = erasure_request
    audit_record(
        action=EventAction.ERASE,
        actor=approved_by,
        username="" if approved_by is not None else SYSTEM_ACTOR,
        case=case,
        obj=case,
        detail=detail,
    )
    return removed


@transaction.atomic
def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _month_start_dt(moment: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(moment)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def case_anonymise(*, case_id: int, today: datetime.date | None = None) -> dict[str, int]:
    """Keep the case row for statistics, without any free text or identity.

    Kept: partnership, status, outcome, the month of opening and closure,
    and the data-subject category on a fresh per-case placeholder person.
    Every row bound to the case is erased (as ``case_erase`` does), so the
    case has no team and no grant left: nobody reaches it any more.
    """
    on = today or timezone.localdate()
    case = _lock_case(case_id)
    if case.anonymised_at is not None:
        return {}
    _refuse_if_held(case, on)
    old_person = case.person
    files = case_files_forget(case_id=case.pk)
    removed = _purge(bindings_to(Case, plain_id="case_id"), case.pk)
    placeholder = Person.objects.create(
        given_name="",
        family_name="",
        birth_date=None,
        identifier="",
        data_subject_category=old_person.data_subject_category,
        created_at=_month_start_dt(case.created_at),
    )
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        person=placeholder,
        reference=f"ANON-{case.pk}",
        opened_on=_month_start(case.opened_on),
        closed_on=_month_start(case.closed_on) if case.closed_on else None,
        created_at=_month_start_dt(case.created_at),
        updated_at=_month_start_dt(case.updated_at),
        anonymised_at=now,
        version=models.F("version") + 1,
    )
    for label, count in _erase_person_if_unused(old_person.pk).items():
        removed[label] = removed.get(label, 0) + count
    audit_record(
        action=EventAction.ERASE,
        username=SYSTEM_ACTOR,
        case=case,
        obj=case,
        detail={
            "action": RetentionAction.ANONYMISE.value,
            "retention": _retention_detail(case),
            "removed": dict(sorted(removed.items())),
            **({"files": len(files)} if files else {}),
        },
    )
    return removed


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
        raise NotVisible
    request = (
        ErasureRequest.objects.filter(pk=pk, status=ErasureStatus.PENDING)
        .select_related("requested_by")
        .first()
    )
    if request is None or (case_id is not None and str(request.case_id) != str(case_id)):
        raise NotVisible
    return request


def _check_erasable(case: Case) -> None:
    if case.status not in retention_selectors.RETAINED_STATUSES or case.anonymised_at is not None:
        raise ValidationError(
            _("Only a closed case can be erased. Close the case first."), code="not_closed"
        )
    if LegalHold.objects.filter(
        retention_selectors.active_holds(timezone.localdate()), case_id=case.pk
    ).exists():
        raise LegalHoldActive(
            _("The case is under a legal hold: lift the hold before asking for its erasure."),
            code="legal_hold",
        )


def approvers(case: Case) -> QuerySet[User]:
    """Everyone who may approve an erasure of ``case``: the partnership's
    coordinators and its coordinating organisation's data-protection officers."""
    return oversight_users(case.partnership).filter(organisation__is_active=True).order_by("pk")


def notify_approvers(request: ErasureRequest, case: Case, asker: User) -> None:
    """An in-app notification to everyone who may approve, but the asker."""
    key = f"erasure:{request.pk}"
    rows = []
    for user in approvers(case).exclude(pk=asker.pk):
        if is_data_protection_officer(user):
            url = reverse("cases:erasure_requests")
        else:
            url = reverse("cases:case", args=[case.pk]) + "#retention"
        rows.append(
            Notification(
                user=user,
                kind=NotificationKind.ERASURE,
                case_id=case.pk,
                message_key="erasure_to_approve",
                params={"ref": case.reference},
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
    case = retention_selectors._case_for_hold(actor, case_id=case_id, reference=reference)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the case must be erased now.")]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [_("The reason can be at most 2,000 characters long.")]})
    _check_erasable(case)
    if not step_up_verified(actor, code):
        _refuse_step_up(actor, case, "requested")
    with transaction.atomic():
        case = _lock_case(case.pk)
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
    case = retention_selectors._case_for_hold(actor, case_id=request.case_id)
    if not may_decide_erasure(actor, request):
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
            raise NotVisible  # decided meanwhile
        case = _lock_case(case.pk)
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
        removed = case_erase(case_id=case.pk, approved_by=actor, erasure_request=request.pk)
    return ErasureDone(reference=reference, removed=removed)


@transaction.atomic
def erasure_decline(
    *, actor: User, request_id: Any, case_id: Any = None, reason: str = ""
) -> ErasureRequest:
    """The asker withdraws their request, or another approver refuses it (saying why)."""
    request = _pending(request_id, case_id)
    case = retention_selectors._case_for_hold(actor, case_id=request.case_id)
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
        raise NotVisible
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
