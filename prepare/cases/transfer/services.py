"""Transfers of a case to another partnership: propose, accept, decline, withdraw.
Each is one transaction with its audit event; the receiving side's access and
the old team's grace are set up on acceptance."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.grants import case_grants_rebuild
from prepare.access.policy import (
    categories_of,
    coordinated_partnership_ids,
    coordinates,
    forget_grants,
    parse_pk,
    visible_cases,
)
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.rules import transfer_refusal
from prepare.cases.models import (
    Case,
    CaseTeamMember,
    Transfer,
    TransferGrace,
    TransferStatus,
)
from prepare.cases.transfer.selectors import (
    REASON_MAX_LENGTH,
    RECEIVING,
    SENDING,
    SUMMARY_MAX_LENGTH,
    _side,
    default_categories,
    grace_holders,
    held_counts,
    propose_check,
    record_models,
)
from prepare.locking import StaleVersion
from prepare.notifications.transfers import (
    transfer_notify_decided,
    transfer_notify_proposed,
    transfer_settle,
)
from prepare.partnerships.models import (
    Partnership,
    SharingAgreement,
)


class TransferRefused(ValidationError):
    """The transfer cannot be proposed or decided like this; nothing changed."""


class TransferDecided(StaleVersion):
    """The transfer was decided or withdrawn meanwhile (HTTP 409); nothing changed."""

    message = gettext_lazy(
        "This transfer is no longer open: it was accepted, declined or withdrawn in the "
        "meantime. Nothing was changed; reload to see where it stands."
    )


# --- Writes -----------------------------------------------------------------------


def _agreement_in_force(partnership_id: int) -> SharingAgreement | None:
    return (
        SharingAgreement.objects.in_force(timezone.localdate())
        .filter(partnership_id=partnership_id)
        .order_by("-valid_from", "-pk")
        .first()
    )


def _basis(prefix: str, agreement: SharingAgreement | None) -> dict[str, Any]:
    """The legal basis of an agreement, for an audit event (no case content)."""
    return {
        f"{prefix}_agreement": agreement.pk if agreement else None,
        f"{prefix}_legal_basis": agreement.legal_basis if agreement else "",
        f"{prefix}_legal_reference": agreement.legal_reference[:300] if agreement else "",
    }


@transaction.atomic
def transfer_propose(
    *,
    actor: User,
    case_id: Any,
    to_partnership_id: Any,
    handover_summary: str,
    summary_category: str,
    categories: Iterable[str] | None = None,
) -> Transfer:
    """Propose to move the case to another partnership, with a handover summary.

    ``categories`` are the categories of case records handed over (None: the
    default, ``default_categories``); the records of the others stay with the
    sending partnership after acceptance. An empty choice or an unknown
    category is refused.
    """
    case = propose_check(actor=actor, case_id=case_id)
    case = (
        Case.objects.select_for_update(of=("self",)).select_related("partnership").get(pk=case.pk)
    )
    refusal = transfer_refusal(case)
    if refusal:
        raise TransferRefused(refusal, code="case_closed")
    target_pk = parse_pk(to_partnership_id)
    target = (
        Partnership.objects.exclude(pk=case.partnership_id).filter(pk=target_pk).first()
        if target_pk is not None
        else None
    )
    if target is None:
        raise TransferRefused(
            {"to_partnership": [_("Choose another partnership to transfer the case to.")]},
            code="no_target",
        )
    summary = (handover_summary or "").strip()
    if not summary:
        raise TransferRefused(
            {"handover_summary": [_("Write the handover summary.")]}, code="summary_required"
        )
    if len(summary) > SUMMARY_MAX_LENGTH:
        raise TransferRefused(
            {
                "handover_summary": [
                    _("Keep the summary under %(max)d characters.") % {"max": SUMMARY_MAX_LENGTH}
                ]
            },
            code="summary_too_long",
        )
    if summary_category not in Category.values:
        raise TransferRefused(
            {"summary_category": [_("Choose the category of the summary.")]},
            code="category_required",
        )
    if summary_category not in categories_of(actor, case.partnership_id, Action.WRITE):
        raise WriteForbidden
    handed_over = _chosen_categories(categories, case.partnership_id, target.pk)
    if Transfer.objects.filter(case=case, status=TransferStatus.PROPOSED).exists():
        raise TransferRefused(
            _("A transfer of this case is already open. Withdraw it first."),
            code="already_open",
        )
    transfer = Transfer(
        case=case,
        from_partnership_id=case.partnership_id,
        to_partnership=target,
        handover_summary=summary,
        summary_category=summary_category,
        categories=handed_over,
        proposed_by=actor,
    )
    transfer.full_clean(exclude=["case", "proposed_by"], validate_constraints=False)
    try:
        with transaction.atomic():
            transfer.save(force_insert=True)
    except IntegrityError as exc:
        # Two proposals at the same moment: the unique constraint keeps one.
        raise TransferRefused(
            _("A transfer of this case is already open. Withdraw it first."),
            code="already_open",
        ) from exc
    held = held_counts(case)
    notified = transfer_notify_proposed(transfer)
    audit_record(
        action=EventAction.TRANSFER,
        actor=actor,
        case=case,
        obj=transfer,
        category=summary_category,
        detail={
            "step": "proposed",
            "from_partnership": case.partnership_id,
            "to_partnership": target.pk,
            "recipient_organisation": target.coordinating_organisation_id,
            **_basis("sending", _agreement_in_force(case.partnership_id)),
            "categories_handed_over": handed_over,
            "categories_chosen": categories is not None,
            "records_handed_over": {c: held.get(c, 0) for c in handed_over},
            "records_kept": sum(n for c, n in held.items() if c not in handed_over),
            "notified": notified,
        },
    )
    return transfer


def _chosen_categories(
    categories: Iterable[str] | None, from_partnership_id: int, to_partnership_id: int
) -> list[str]:
    """The categories handed over, in their canonical order: the default when
    none were chosen; refused when the choice is empty or names an unknown one."""
    if categories is None:
        return default_categories(
            from_partnership_id=from_partnership_id, to_partnership_id=to_partnership_id
        )
    if isinstance(categories, str):
        categories = [categories]
    chosen = {str(c) for c in categories}
    unknown = sorted(chosen - set(Category.values))
    if unknown:
        raise TransferRefused(
            {"categories": [_("Choose categories from the list.")]}, code="unknown_category"
        )
    if not chosen:
        raise TransferRefused(
            {"categories": [_("Choose at least one category of case information to hand over.")]},
            code="categories_required",
        )
    return [c for c in Category.values if c in chosen]


def _locked(actor: User, transfer_id: Any) -> Transfer:
    """The transfer, locked for this transaction, if the actor sees it (else 404)."""
    pk = parse_pk(transfer_id)
    ids = coordinated_partnership_ids(actor)
    if pk is None or not ids:
        raise NotVisible
    transfer = (
        Transfer.objects.select_for_update()
        .filter(pk=pk)
        .filter(Q(from_partnership_id__in=ids) | Q(to_partnership_id__in=ids))
        .first()
    )
    if transfer is None:
        raise NotVisible
    return transfer


def _to_decide(actor: User, transfer_id: Any) -> Transfer:
    transfer = _locked(actor, transfer_id)
    if _side(actor, transfer) != RECEIVING:
        raise WriteForbidden
    if transfer.status != TransferStatus.PROPOSED:
        raise TransferDecided
    return transfer


def _recheck(actor: User, case: Case) -> None:
    """After the move, in the same transaction: the actor must still coordinate
    the case's (new) partnership and reach the case (STYLE.md 5)."""
    forget_grants(actor)
    fresh = User.objects.filter(pk=actor.pk).first()
    if fresh is None or not coordinates(fresh, case.partnership_id):
        raise WriteForbidden
    if not visible_cases(fresh).filter(pk=case.pk).exists():
        raise WriteForbidden


@transaction.atomic
def transfer_accept(*, actor: User, transfer_id: Any, reason: str = "") -> Transfer:
    """Move the case to the receiving partnership. All or nothing."""
    transfer = _to_decide(actor, transfer_id)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise TransferRefused({"reason": [_("Keep the reason shorter.")]}, code="reason_too_long")
    if not categories_of(actor, transfer.to_partnership_id):
        raise TransferRefused(
            _(
                "The agreement of your partnership shares no category of case information "
                "with your organisation, so you could not see the case after accepting it."
            ),
            code="nothing_granted",
        )
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("partnership__coordinating_organisation")
        .get(pk=transfer.case_id)
    )
    if case.partnership_id != transfer.from_partnership_id:
        raise TransferDecided
    refusal = transfer_refusal(case)  # closure started after the proposal
    if refusal:
        raise TransferRefused(refusal, code="case_closed")
    sending = _agreement_in_force(transfer.from_partnership_id)
    receiving = _agreement_in_force(transfer.to_partnership_id)
    now = timezone.now()
    today = timezone.localdate()
    from_partnership = case.partnership
    to_partnership = Partnership.objects.select_related("coordinating_organisation").get(
        pk=transfer.to_partnership_id
    )

    # The old team keeps reading what it read, for the grace period only.
    holders = grace_holders(case, today)
    until = now + datetime.timedelta(days=from_partnership.transfer_grace_days)
    TransferGrace.objects.filter(
        case_id=case.pk, organisation_id__in=sorted({org for org, _u, _c in holders})
    ).delete()
    if from_partnership.transfer_grace_days > 0:
        TransferGrace.objects.bulk_create(
            TransferGrace(
                transfer=transfer,
                case_id=case.pk,
                organisation_id=org_id,
                user_id=user_id,
                coordination=coordination,
                category=category,
                until=until,
            )
            for (org_id, user_id, coordination), categories in sorted(
                holders.items(), key=lambda item: (item[0][0], item[0][1] or 0, item[0][2])
            )
            for category in sorted(categories)
        )
    # The records of the categories handed over move to the receiving
    # partnership (one UPDATE per kind of record); the others stay with the
    # sender, read by its old team during the grace period only.
    handed_over = transfer.handed_over
    moved = _hand_over_records(case, transfer, to_partnership.pk, handed_over)
    # The old team belonged to the old partnership; the new coordinator forms a new one.
    ended_members = list(
        CaseTeamMember.objects.filter(case_id=case.pk).values_list("pk", flat=True)
    )
    CaseTeamMember.objects.filter(case_id=case.pk).delete()
    Case.objects.filter(pk=case.pk).update(
        partnership=to_partnership, updated_at=now, version=F("version") + 1
    )
    case.refresh_from_db(fields=["partnership", "updated_at", "version"])
    case.partnership = to_partnership
    case_grants_rebuild(case)
    Transfer.objects.filter(pk=transfer.pk).update(
        status=TransferStatus.ACCEPTED, decided_by=actor, decided_at=now, decision_reason=reason
    )
    transfer.refresh_from_db()
    _recheck(actor, case)

    disclosed = sorted(categories_of(actor, to_partnership.pk))
    common: dict[str, Any] = {
        "step": "accepted",
        "from_partnership": from_partnership.pk,
        "to_partnership": to_partnership.pk,
        "recipient_organisation": to_partnership.coordinating_organisation_id,
        "sending_organisation": from_partnership.coordinating_organisation_id,
        **_basis("sending", sending),
        **_basis("receiving", receiving),
        "categories": disclosed,
        "categories_handed_over": handed_over,
        "records_handed_over": {c: moved["moved"].get(c, 0) for c in handed_over},
        "records_kept": sum(moved["kept"].values()),
        "version": case.version,
    }
    # One event per side, so that each side's log names its own partnership.
    audit_record(
        action=EventAction.TRANSFER,
        actor=actor,
        case=case,
        obj=transfer,
        detail={
            **common,
            "side": SENDING,
            "partnership": from_partnership.pk,
            "ended_team_members": ended_members,
            "grace_until": until.isoformat() if holders else None,
            "grace_organisations": sorted({org for org, _u, _c in holders}),
        },
    )
    audit_record(
        action=EventAction.TRANSFER,
        actor=actor,
        case=case,
        obj=transfer,
        detail={
            **common,
            "side": RECEIVING,
            "partnership": to_partnership.pk,
            "notified": transfer_notify_decided(transfer, accepted=True, actor=actor),
        },
    )
    return transfer


def _hand_over_records(
    case: Case, transfer: Transfer, to_id: int, categories: list[str]
) -> dict[str, dict[str, int]]:
    """Move the case's records of ``categories`` held by the sender to the
    receiver, stamped with the transfer: the old team's grace reads these (and
    the ones kept), not what the receiver writes later. What moved and what
    stayed, per category, for the audit event."""
    held = held_counts(case)
    for model in record_models():
        model._default_manager.filter(
            case_id=case.pk, partnership_id=transfer.from_partnership_id, category__in=categories
        ).update(partnership_id=to_id, handed_over_by=transfer)
    return {
        "moved": {c: n for c, n in held.items() if c in categories},
        "kept": {c: n for c, n in held.items() if c not in categories},
    }


@transaction.atomic
def transfer_decline(*, actor: User, transfer_id: Any, reason: str) -> Transfer:
    """Refuse the transfer, saying why; the case stays where it is."""
    transfer = _to_decide(actor, transfer_id)
    reason = (reason or "").strip()
    if not reason:
        raise TransferRefused({"reason": [_("Say why you decline.")]}, code="reason_required")
    if len(reason) > REASON_MAX_LENGTH:
        raise TransferRefused({"reason": [_("Keep the reason shorter.")]}, code="reason_too_long")
    now = timezone.now()
    Transfer.objects.filter(pk=transfer.pk).update(
        status=TransferStatus.DECLINED, decided_by=actor, decided_at=now, decision_reason=reason
    )
    transfer.refresh_from_db()
    audit_record(
        action=EventAction.TRANSFER,
        actor=actor,
        case=transfer.case,
        obj=transfer,
        detail={
            "step": "declined",
            "from_partnership": transfer.from_partnership_id,
            "to_partnership": transfer.to_partnership_id,
            "notified": transfer_notify_decided(transfer, accepted=False, actor=actor),
        },
    )
    return transfer


@transaction.atomic
def transfer_withdraw(*, actor: User, transfer_id: Any, reason: str = "") -> Transfer:
    """The sending side takes back its open proposal."""
    transfer = _locked(actor, transfer_id)
    if _side(actor, transfer) != SENDING:
        raise WriteForbidden
    if transfer.status != TransferStatus.PROPOSED:
        raise TransferDecided
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise TransferRefused({"reason": [_("Keep the reason shorter.")]}, code="reason_too_long")
    now = timezone.now()
    Transfer.objects.filter(pk=transfer.pk).update(
        status=TransferStatus.WITHDRAWN, decided_by=actor, decided_at=now, decision_reason=reason
    )
    transfer.refresh_from_db()
    transfer_settle(transfer)
    audit_record(
        action=EventAction.TRANSFER,
        actor=actor,
        case=transfer.case,
        obj=transfer,
        detail={
            "step": "withdrawn",
            "from_partnership": transfer.from_partnership_id,
            "to_partnership": transfer.to_partnership_id,
        },
    )
    return transfer
