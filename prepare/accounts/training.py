"""Training records: the trainings a person has completed, which an instrument
may require before they use it (``access.assessing.qualified_trainings``).

Recorded by hand on the person's account page, by whoever may change that
account (``access.abilities.may_record_training``: an administrator, or their
organisation's account manager; nobody for themselves); completing a training
programme will add them too. A person reads their own records on their
settings page. Each addition and removal is one transaction and one audit
event: a permission change (a record opens instruments to its holder) whose
detail holds the account, the training key and the dates, never the note.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.abilities import may_manage_accounts
from prepare.access.errors import NotVisible
from prepare.access.policy import account_for, parse_pk
from prepare.accounts.models import TrainingRecord, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record

# A training's key, as instruments name it (instrument.schema.json, "training").
TRAINING_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
NOTE_MAX_LENGTH = 200


@dataclass(frozen=True)
class TrainingRow:
    """One record as the pages show it: whether it counts today."""

    record: TrainingRecord
    current: bool

    @property
    def recorded_by_name(self) -> str:
        by = self.record.recorded_by
        if by is None:
            return ""
        return by.get_full_name() or by.username


def training_records(
    *, actor: User, account: User, today: datetime.date | None = None
) -> list[TrainingRow]:
    """The records of ``account`` (read by the caller through the policy: the
    actor's own, or one whose account page they see), newest first within each
    training: one query."""
    if account.pk != actor.pk and not may_manage_accounts(actor, account.organisation_id):
        raise NotVisible
    day = today or timezone.localdate()
    rows = (
        TrainingRecord.objects.filter(user_id=account.pk)
        .select_related("recorded_by")
        .order_by("training", "-completed_on", "-pk")
    )
    return [TrainingRow(record=r, current=r.qualifies_on(day)) for r in rows]


def _detail(change: str, record: TrainingRecord) -> dict[str, Any]:
    return {
        "change": change,
        "account": record.user_id,
        "training": record.training,
        "completed_on": record.completed_on.isoformat(),
        "expires_on": record.expires_on.isoformat() if record.expires_on else None,
    }


def _problems(
    account: User,
    training: str,
    completed_on: datetime.date,
    expires_on: datetime.date | None,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not TRAINING_KEY.match(training):
        errors["training"] = [
            _(
                "Write the training's key as instruments name it: lowercase letters, digits "
                "and hyphens, for example risk-assessment-basics."
            )
        ]
    if completed_on > timezone.localdate():
        errors["completed_on"] = [_("The day it was completed cannot be in the future.")]
    if expires_on is not None and expires_on <= completed_on:
        errors["expires_on"] = [_("The day it expires must come after the day it was completed.")]
    if not errors and (
        TrainingRecord.objects.filter(
            user_id=account.pk, training=training, completed_on=completed_on
        ).exists()
    ):
        errors["training"] = [_("This training is already recorded with this day of completion.")]
    return errors


@transaction.atomic
def training_record_add(
    *,
    actor: User,
    account_id: Any,
    training: str,
    completed_on: datetime.date,
    expires_on: datetime.date | None = None,
    note: str = "",
) -> TrainingRecord:
    """Record that the account's person completed ``training`` on ``completed_on``
    (valid until the day before ``expires_on``, if given). 404 for an account
    the actor does not manage, 403 for one they may not change (their own)."""
    pk = parse_pk(account_id)
    if pk is None:
        raise NotVisible
    account = account_for(actor, pk, change=True)
    training = training.strip()
    errors = _problems(account, training, completed_on, expires_on)
    if errors:
        raise ValidationError(errors)
    record = TrainingRecord(
        user=account,
        training=training,
        completed_on=completed_on,
        expires_on=expires_on,
        note=note.strip()[:NOTE_MAX_LENGTH],
        recorded_by=actor,
    )
    record.full_clean()
    record.save()
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=record,
        detail=_detail("training_recorded", record),
    )
    return record


def training_record_for_change(*, actor: User, account_id: Any, record_id: Any) -> TrainingRecord:
    """One record of an account the actor may change (the account locked for the
    transaction); 404 for a record of another account or none."""
    pk, record_pk = parse_pk(account_id), parse_pk(record_id)
    if pk is None or record_pk is None:
        raise NotVisible
    account = account_for(actor, pk, change=True)
    record = (
        TrainingRecord.objects.select_related("recorded_by")
        .filter(pk=record_pk, user_id=account.pk)
        .first()
    )
    if record is None:
        raise NotVisible
    record.user = account
    return record


@transaction.atomic
def training_record_remove(*, actor: User, account_id: Any, record_id: Any) -> TrainingRecord:
    """Remove one record (recorded by mistake, or withdrawn); audited with its key
    and dates. The removed record is returned (without its primary key)."""
    record = training_record_for_change(actor=actor, account_id=account_id, record_id=record_id)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=record,
        detail=_detail("training_removed", record),
    )
    record.delete()
    return record
