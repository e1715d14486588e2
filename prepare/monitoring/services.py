"""Writes of monitoring: each one transaction and one audit event.

A write needs the case for writing and the record's category among the
actor's write grants (``WriteForbidden`` otherwise); an update names the
version it read (``StaleVersion`` otherwise). Escalation mails leave only
after the transaction commits and carry the case reference and the severity,
never case content.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from prepare.access.abilities import may_acknowledge
from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    case_for_write,
    case_practitioners,
    parse_pk,
    partnership_coordinators,
    record_for,
)
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record, changed_fields
from prepare.cases.services import case_record_update, case_touch
from prepare.locking import StaleVersion, save_versioned
from prepare.monitoring.models import (
    ESCALATING,
    Breach,
    Contact,
    ContactKind,
    ContactOutcome,
    ContactVersion,
    LicenceCondition,
    Severity,
    Signal,
    SignalAlert,
    SignalStatus,
)
from prepare.monitoring.selectors import signal_alerted
from prepare.partnerships.models import Membership

# A contact is recorded after it happened; a few minutes of clock skew are allowed.
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)


def _check_category(category: str) -> None:
    if category not in Category.values:
        raise ValidationError({"category": _("Choose a category.")})


def _check_not_future(field: str, when: datetime.datetime) -> None:
    if when > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({field: _("This cannot be in the future.")})


def _check_day_not_future(field: str, day: datetime.date) -> None:
    if day > timezone.localdate():
        raise ValidationError({field: _("This cannot be in the future.")})


# --- Contacts ----------------------------------------------------------------------


def _check_outcome(outcome: str) -> None:
    if outcome not in ContactOutcome.values:
        raise ValidationError({"outcome": _("Choose whether the contact took place.")})


@transaction.atomic
def contact_record(
    *,
    actor: User,
    case_id: int,
    category: str,
    kind: str,
    occurred_at: datetime.datetime,
    summary: str,
    with_whom: str = "",
    outcome: str = ContactOutcome.ATTENDED,
) -> Contact:
    """A contact the actor had (or planned and the person missed), filed in a
    category they may write."""
    _check_category(category)
    case = case_for_write(actor, case_id, category)
    _check_not_future("occurred_at", occurred_at)
    _check_outcome(outcome)
    now = timezone.now()
    contact = Contact(
        case=case,
        category=category,
        kind=kind,
        outcome=outcome,
        occurred_at=occurred_at,
        who=actor,
        with_whom=with_whom,
        summary=summary,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    contact.full_clean()
    contact.save()
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=contact,
        category=category,
        detail={"kind": kind, "outcome": outcome},
    )
    return contact


CORRECTABLE = ("kind", "outcome", "occurred_at", "with_whom", "summary")


@transaction.atomic
def contact_correct(
    *,
    actor: User,
    contact_id: int,
    version: int,
    reason: str = "",
    kind: str | None = None,
    outcome: str | None = None,
    occurred_at: datetime.datetime | None = None,
    with_whom: str | None = None,
    summary: str | None = None,
) -> Contact:
    """Correct a contact, refusing a stale ``version``; the version it replaces
    is kept (``ContactVersion``), in the contact's case and category, so that
    whoever may read the contact can see what it said before and who changed it.

    The category does not change: that would disclose the summary to other
    organisations, so it is a new contact. A correction that changes nothing
    writes nothing.
    """
    contact: Contact = record_for(actor, Contact, contact_id, Action.WRITE)
    given = {
        "kind": kind,
        "outcome": outcome,
        "occurred_at": occurred_at,
        "with_whom": with_whom,
        "summary": summary,
    }
    before = {name: getattr(contact, name) for name in CORRECTABLE}
    after = {name: before[name] if value is None else value for name, value in given.items()}
    if occurred_at is not None:
        _check_not_future("occurred_at", occurred_at)
    if outcome is not None:
        _check_outcome(outcome)
    fields = changed_fields(before, after)
    if not fields:
        return contact  # nothing to correct: no copy, no event
    probe = Contact(
        case_id=contact.case_id,
        category=contact.category,
        who_id=contact.who_id,
        created_by_id=contact.created_by_id,
        updated_by=actor,
        **after,
    )
    probe.full_clean(exclude=["case", "who", "created_by", "updated_by"])
    earlier = ContactVersion(
        case_id=contact.case_id,
        category=contact.category,
        contact=contact,
        version=version,
        written_by_id=contact.updated_by_id,
        written_at=contact.updated_at,
        corrected_by=actor,
        corrected_at=timezone.now(),
        reason=reason,
        **before,
    )
    earlier.full_clean(exclude=["case", "contact", "written_by", "corrected_by"])
    # The versioned write first: it refuses a stale version in one UPDATE, so
    # two corrections of the same version cannot both keep a copy of it. What
    # ``before`` holds is then exactly that version.
    case_record_update(
        actor=actor,
        record=contact,
        version=version,
        changes=after,
        detail={
            "fields": fields,
            "correction": True,
            "earlier_version": version,
            "reason_given": bool(reason),
        },
    )
    earlier.save()
    return contact


def contact_update(
    *,
    actor: User,
    contact_id: int,
    version: int,
    kind: str | None = None,
    occurred_at: datetime.datetime | None = None,
    with_whom: str | None = None,
    summary: str | None = None,
    outcome: str | None = None,
    reason: str = "",
) -> Contact:
    """The API's change of a contact: a correction like any other (the
    earlier version is kept)."""
    return contact_correct(
        actor=actor,
        contact_id=contact_id,
        version=version,
        reason=reason,
        kind=kind,
        outcome=outcome,
        occurred_at=occurred_at,
        with_whom=with_whom,
        summary=summary,
    )


# --- Licence conditions and breaches ---------------------------------------------------


def _check_condition_dates(starts_on: datetime.date, ends_on: datetime.date | None) -> None:
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": _("The end cannot be before the start.")})


@transaction.atomic
def licence_condition_add(
    *,
    actor: User,
    case_id: int,
    text: str,
    starts_on: datetime.date,
    ends_on: datetime.date | None = None,
) -> LicenceCondition:
    case = case_for_write(actor, case_id, Category.JUSTICE)
    _check_condition_dates(starts_on, ends_on)
    now = timezone.now()
    condition = LicenceCondition(
        case=case,
        text=text,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    condition.full_clean()
    condition.save()
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=condition,
        category=Category.JUSTICE,
    )
    return condition


@transaction.atomic
def licence_condition_update(
    *,
    actor: User,
    condition_id: int,
    version: int,
    text: str,
    starts_on: datetime.date,
    ends_on: datetime.date | None,
) -> LicenceCondition:
    """Replace a condition's text and dates, refusing a stale ``version``."""
    condition: LicenceCondition = record_for(actor, LicenceCondition, condition_id, Action.WRITE)
    _check_condition_dates(starts_on, ends_on)
    before = {
        "text": condition.text,
        "starts_on": condition.starts_on,
        "ends_on": condition.ends_on,
    }
    after = {"text": text, "starts_on": starts_on, "ends_on": ends_on}
    probe = LicenceCondition(case_id=condition.case_id, **after)
    probe.full_clean(exclude=["case", "created_by", "updated_by"])
    case_record_update(
        actor=actor,
        record=condition,
        version=version,
        changes=after,
        detail={"fields": changed_fields(before, after)},
    )
    return condition


@transaction.atomic
def licence_condition_end(
    *,
    actor: User,
    condition_id: int,
    version: int,
    ends_on: datetime.date | None = None,
) -> LicenceCondition:
    """End a condition (today unless told otherwise), refusing a stale ``version``."""
    condition: LicenceCondition = record_for(actor, LicenceCondition, condition_id, Action.WRITE)
    day = ends_on or timezone.localdate()
    _check_condition_dates(condition.starts_on, day)
    case_record_update(
        actor=actor,
        record=condition,
        version=version,
        changes={"ends_on": day},
        detail={"fields": ["ends_on"], "change": "ended"},
    )
    return condition


@transaction.atomic
def breach_record(
    *,
    actor: User,
    condition_id: int,
    occurred_on: datetime.date,
    description: str,
    action_taken: str = "",
) -> Breach:
    """A breach of one of the case's licence conditions (category justice)."""
    condition: LicenceCondition = record_for(actor, LicenceCondition, condition_id, Action.WRITE)
    _check_day_not_future("occurred_on", occurred_on)
    if not condition.in_force(occurred_on):
        raise ValidationError({"occurred_on": _("The condition did not apply on that date.")})
    now = timezone.now()
    breach = Breach(
        condition=condition,
        case=condition.case,
        occurred_on=occurred_on,
        description=description,
        action_taken=action_taken,
        reported_by=actor,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    breach.full_clean()
    breach.save()
    case_touch(condition.case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=condition.case,
        obj=breach,
        category=Category.JUSTICE,
        detail={"condition": condition.pk},
    )
    return breach


# --- Signals ---------------------------------------------------------------------------


def signal_recipients(signal: Signal) -> list[User]:
    """Who is alerted of an escalated signal, as the policy decides.

    The candidates are the partnership's coordinators (coordinator role in
    the coordinating organisation) and the people of the member
    organisations the partnership names for escalation. Each is kept only
    if the access policy lets them read this signal today: their
    organisation reaches the case and the agreement grants them the
    signal's category. Costs a few queries per candidate (their grants),
    which stays small: a handful of organisations' staff.
    """
    case = signal.case
    today = timezone.localdate()
    escalation_orgs = (
        Membership.objects.current(today)
        .filter(partnership_id=case.partnership_id, escalation=True, organisation__is_active=True)
        .values("organisation_id")
    )
    coordinators = Q(pk__in=partnership_coordinators([case.partnership_id]).values("pk"))
    candidates = (
        case_practitioners()
        .filter(coordinators | Q(organisation_id__in=escalation_orgs))
        .order_by("pk")
    )
    return [
        user
        for user in candidates
        if Signal.objects.visible_to(user, Action.READ).filter(pk=signal.pk).exists()
    ]


def _mail_alerts(signal: Signal, recipients: list[User]) -> None:
    """One mail per recipient (no one sees who else was told), after the commit.

    Only the reference and the severity: the concern itself stays in PREPARE,
    behind the sign-in and the policy. Each mail is in its recipient's
    language (``User.language``, else the site's).
    """
    addressed = [(u.email, u.language or settings.LANGUAGE_CODE) for u in recipients if u.email]
    if not addressed:
        return
    reference = signal.case.reference
    severity = signal.severity

    def send() -> None:
        for email, language in addressed:
            with translation.override(language):
                label = str(Severity(severity).label)
                subject = _("PREPARE: %(severity)s signal on case %(ref)s") % {
                    "severity": label,
                    "ref": reference,
                }
                body = _(
                    "A signal of concern of severity %(severity)s was raised on case %(ref)s. "
                    "Sign in to PREPARE to read it and acknowledge it."
                ) % {"severity": label, "ref": reference}
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])

    transaction.on_commit(send)


@transaction.atomic
def signal_raise(
    *,
    actor: User,
    case_id: int,
    severity: str,
    description: str,
    category: str = Category.RISK,
) -> Signal:
    """Raise a signal of concern; a high or urgent one alerts the recipients."""
    _check_category(category)
    if severity not in Severity.values:
        raise ValidationError({"severity": _("Choose a severity.")})
    case = case_for_write(actor, case_id, category)
    now = timezone.now()
    signal = Signal(
        case=case,
        category=category,
        severity=severity,
        description=description,
        escalated=severity in ESCALATING,
        raised_by=actor,
        raised_at=now,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    signal.full_clean()
    signal.save()
    recipients: list[User] = []
    if signal.escalated:
        # The one who raised it knows already.
        recipients = [u for u in signal_recipients(signal) if u.pk != actor.pk]
        SignalAlert.objects.bulk_create(
            [SignalAlert(signal=signal, user=u, created_at=now) for u in recipients]
        )
        _mail_alerts(signal, recipients)
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=signal,
        category=category,
        detail={
            "severity": severity,
            "escalated": signal.escalated,
            "alerted": [u.pk for u in recipients],
        },
    )
    return signal


def _signal_for_change(actor: User, signal_id: Any) -> tuple[Signal, bool]:
    """The signal, if the actor reads it (else 404), and whether an alert of theirs is open."""
    signal_pk = parse_pk(signal_id)
    if signal_pk is None:
        raise NotVisible
    signal = (
        Signal.objects.visible_to(actor, Action.READ)
        .select_related("case", "case__partnership")
        .filter(pk=signal_pk)
        .first()
    )
    if signal is None:
        raise NotVisible
    return signal, signal_alerted(actor=actor, signal=signal)


def _close_alerts(signal: Signal, actor: User, now: datetime.datetime) -> int:
    return SignalAlert.objects.filter(signal=signal, closed_at__isnull=True).update(
        closed_at=now, closed_by=actor
    )


@transaction.atomic
def signal_acknowledge(*, actor: User, signal_id: int, version: int, note: str) -> Signal:
    """Acknowledge an open signal: by one of its recipients, or by anyone who may
    write its category. Closes the alerts of every recipient."""
    signal, alerted = _signal_for_change(actor, signal_id)
    # A recipient acknowledges even without the category's write grant, but
    # only with a role that writes and a case they reach for writing.
    if not may_acknowledge(actor, signal=signal, alerted=alerted):
        raise WriteForbidden
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say what you did or will do about it.")})
    if len(note) > 5_000:
        raise ValidationError({"note": _("Keep it under 5,000 characters.")})
    if signal.version != version:
        raise StaleVersion
    if signal.status != SignalStatus.OPEN:
        raise ValidationError(_("This signal is already acknowledged or closed."))
    now = timezone.now()
    save_versioned(
        signal,
        version,
        {
            "status": SignalStatus.ACKNOWLEDGED,
            "acknowledged_by": actor,
            "acknowledged_at": now,
            "acknowledgement_note": note,
            "updated_by": actor,
            "updated_at": now,
        },
    )
    closed = _close_alerts(signal, actor, now)
    case_touch(signal.case)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=signal.case,
        obj=signal,
        category=signal.category,
        detail={
            "change": "acknowledged",
            "fields": ["status", "acknowledgement_note"],
            "version": signal.version,
            "alerts_closed": closed,
            "as_recipient": alerted,
        },
    )
    return signal


@transaction.atomic
def signal_close(*, actor: User, signal_id: int, version: int) -> Signal:
    """Close a signal (open or acknowledged); needs the category's write grant."""
    signal, _alerted = _signal_for_change(actor, signal_id)
    if not Signal.objects.visible_to(actor, Action.WRITE).filter(pk=signal.pk).exists():
        raise WriteForbidden
    if signal.version != version:
        raise StaleVersion
    if signal.status == SignalStatus.CLOSED:
        raise ValidationError(_("This signal is already closed."))
    now = timezone.now()
    save_versioned(
        signal,
        version,
        {
            "status": SignalStatus.CLOSED,
            "closed_by": actor,
            "closed_at": now,
            "updated_by": actor,
            "updated_at": now,
        },
    )
    closed = _close_alerts(signal, actor, now)
    case_touch(signal.case)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=signal.case,
        obj=signal,
        category=signal.category,
        detail={
            "change": "closed",
            "fields": ["status"],
            "version": signal.version,
            "alerts_closed": closed,
        },
    )
    return signal


__all__ = [
    "ContactKind",
    "breach_record",
    "contact_record",
    "contact_update",
    "licence_condition_add",
    "licence_condition_end",
    "licence_condition_update",
    "signal_acknowledge",
    "signal_close",
    "signal_raise",
    "signal_recipients",
]
