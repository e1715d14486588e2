"""Retention: legal holds, the partnership's retention rule, erasure and anonymisation.

A closed (or archived) case is kept for the partnership's ``retention_years``
after ``closed_on``; then the daily job (``retention_run``) erases or
anonymises it, unless a legal hold is in force. A case in follow-up is never
touched: follow-up is still work on the case.

Erasure removes the case from every table: every row of every model that
points at the case (found by introspection, so that a model added later is
covered the day it exists), every row that stores the case's id as a plain
integer, the case itself, and the person if no other case refers to them.
The audit log stays (append-only, ids and field names only) and receives a
data-free tombstone.

Anonymisation keeps one row per case for statistics: partnership, status,
outcome and the month it was opened and closed. Everything else bound to
the case is erased as above; the person is replaced by a per-case
placeholder that keeps only the data-subject category (so that two
anonymised cases of one person cannot be linked), and the reference by
``ANON-<id>``.

Who may place or release a legal hold: the coordinator of the case's
partnership (who sees the case through the policy), or an auditor /
data-protection officer of the partnership's coordinating organisation, who
does not see cases and names the case by its reference instead.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef, ProtectedError, Q, RestrictedError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.policy import (
    WriteForbidden,
    get_case_or_404,
    grants_for,
    parse_pk,
    visible_cases,
)
from prepare.accounts.models import Role, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseStatus, LegalHold, Person
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import Partnership, RetentionAction

logger = logging.getLogger(__name__)

# Only these statuses run out their retention; FOLLOW_UP is still live work.
RETAINED_STATUSES = (CaseStatus.CLOSED, CaseStatus.ARCHIVED)
# Tables that keep the case's id after erasure: the append-only audit log and
# its derived index hold ids and field names only (see prepare.audit.models).
KEPT_TABLES = frozenset({"audit.event", "audit.caseaccessindex"})
SYSTEM_ACTOR = "system:retention"
MIN_YEARS = 1
MAX_YEARS = 100


class LegalHoldActive(ValidationError):
    """The case is under a legal hold: it may be neither erased nor anonymised."""


# --- Dates ------------------------------------------------------------------------


def add_years(day: datetime.date, years: int) -> datetime.date:
    """``day`` moved by whole years; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def retention_due_on(closed_on: datetime.date | None, years: int) -> datetime.date | None:
    """The first day on which a case closed on ``closed_on`` is past retention."""
    if closed_on is None:
        return None
    return add_years(closed_on, years)


def active_holds(on: datetime.date) -> Q:
    """A ``Q`` on ``LegalHold``: holds in force on ``on``."""
    return Q(released_at__isnull=True, until__gte=on)


# --- The partnership's rule -------------------------------------------------------


def retention_digest(partnership: Partnership) -> str:
    """What the settings form was based on, to refuse a save over someone else's."""
    return f"{partnership.retention_years}:{partnership.retention_action}"


@transaction.atomic
def partnership_retention_update(
    *,
    actor: User,
    partnership_id: int,
    retention_years: int,
    retention_action: str,
    expected: str,
) -> list[str]:
    """Set how long closed cases are kept and what happens then; coordinator only.

    404 for a non-member, 403 (``WriteForbidden``) for a member who does not
    coordinate, ``VersionRequired`` without ``expected``, ``StaleVersion`` if
    the settings changed since the form was read. Returns the changed fields.
    """
    g = grants_for(actor)
    if partnership_id not in g.partnership_ids:
        raise Http404
    if not g.coordinates(partnership_id):
        raise WriteForbidden
    if not expected:
        raise VersionRequired
    partnership = Partnership.objects.select_for_update().get(pk=partnership_id)
    if expected != retention_digest(partnership):
        raise StaleVersion
    errors: dict[str, str] = {}
    if not MIN_YEARS <= retention_years <= MAX_YEARS:
        errors["retention_years"] = _("Choose between %(min)d and %(max)d years.") % {
            "min": MIN_YEARS,
            "max": MAX_YEARS,
        }
    if retention_action not in RetentionAction.values:
        errors["retention_action"] = _("Choose to erase or to anonymise.")
    if errors:
        raise ValidationError(errors)
    before = {
        "retention_years": partnership.retention_years,
        "retention_action": partnership.retention_action,
    }
    after = {"retention_years": retention_years, "retention_action": retention_action}
    changed = sorted(k for k in after if before[k] != after[k])
    if not changed:
        return []
    Partnership.objects.filter(pk=partnership.pk).update(**after)
    audit_record(
        action=EventAction.AGREEMENT_CHANGE,
        actor=actor,
        obj=partnership,
        detail={
            "partnership": partnership.pk,
            "retention": {k: {"from": before[k], "to": after[k]} for k in changed},
        },
    )
    return changed


# --- Legal holds ------------------------------------------------------------------


def _is_dpo(actor: User) -> bool:
    return actor.is_active and actor.role == Role.AUDITOR and actor.organisation_id is not None


def _case_for_hold(actor: User, *, case_id: Any = None, reference: str = "") -> Case:
    """The case whose holds ``actor`` may change: 404 if out of reach, 403 if not allowed.

    A data-protection officer does not see cases through the policy; they
    reach, by reference or id, the cases of the partnerships their
    organisation coordinates, and nothing of the case is shown to them.
    Everyone else goes through the policy (``_case_for_coordinator``).
    """
    if _is_dpo(actor):
        cases = Case.objects.filter(
            partnership__coordinating_organisation_id=actor.organisation_id,
            partnership__coordinating_organisation__is_active=True,
            anonymised_at__isnull=True,
        ).select_related("partnership")
        pk = parse_pk(case_id)
        if reference:
            cases = cases.filter(reference=reference.strip())
        elif pk is not None:
            cases = cases.filter(pk=pk)
        else:
            raise Http404
        case = cases.first()
        if case is None:
            raise Http404
        return case
    if case_id is None and reference:
        case_id = (
            visible_cases(actor).filter(reference=reference.strip()).values_list("pk", flat=True)
        ).first()
    return _case_for_coordinator(actor, case_id)


def _case_for_coordinator(actor: User, case_id: Any) -> Case:
    """Through the policy: 404 if the actor does not see the case, 403 unless
    they coordinate its partnership."""
    case = get_case_or_404(actor, case_id)
    if not grants_for(actor).coordinates(case.partnership_id):
        raise WriteForbidden
    return case


def hold_of_case(*, hold_id: Any, case_id: Any = None) -> LegalHold:
    """The hold, if it is one of ``case_id``'s (when given); 404 otherwise."""
    if parse_pk(hold_id) is None:
        raise Http404
    hold = LegalHold.objects.filter(pk=int(hold_id)).first()
    if hold is None or (case_id is not None and str(hold.case_id) != str(case_id)):
        raise Http404
    return hold


def may_manage_holds(actor: User, case: Case) -> bool:
    """Whether the actor sees the hold forms on the case's page (the server checks again)."""
    return grants_for(actor).coordinates(case.partnership_id)


@transaction.atomic
def legal_hold_place(
    *,
    actor: User,
    case_id: Any = None,
    reference: str = "",
    reason: str,
    until: datetime.date,
) -> LegalHold:
    """Keep the case from retention until ``until`` (inclusive), saying why."""
    case = _case_for_hold(actor, case_id=case_id, reference=reference)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Say why the case must be kept.")
    if until is None or until < timezone.localdate():
        errors["until"] = _("A hold must last until today or later.")
    if errors:
        raise ValidationError(errors)
    hold = LegalHold(case=case, reason=reason, until=until, placed_by=actor)
    hold.full_clean()
    hold.save()
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=hold,
        detail={"legal_hold": "place", "until": until.isoformat(), "fields": ["reason", "until"]},
    )
    return hold


@transaction.atomic
def legal_hold_release(*, actor: User, hold_id: Any, case_id: Any = None) -> LegalHold:
    """End a hold before its date. A hold is reached only under its own case."""
    hold = hold_of_case(hold_id=hold_id, case_id=case_id)
    case = _case_for_hold(actor, case_id=hold.case_id)
    if hold.released_at is not None:
        raise ValidationError(_("This hold was already released."), code="released")
    hold.released_at = timezone.now()
    hold.released_by = actor
    LegalHold.objects.filter(pk=hold.pk).update(released_at=hold.released_at, released_by=actor)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=hold,
        detail={"legal_hold": "release", "fields": ["released_at", "released_by"]},
    )
    return hold


@dataclass(frozen=True)
class HoldRow:
    hold: LegalHold
    active: bool


@dataclass(frozen=True)
class RetentionOverview:
    """The retention section of a case page."""

    case: Case
    years: int
    action: str
    action_label: str
    due_on: datetime.date | None
    applies: bool  # the case's status runs out its retention
    holds: list[HoldRow]
    manage: bool  # may place and release holds, and read their reasons

    @property
    def held(self) -> bool:
        return any(row.active for row in self.holds)


def retention_overview(*, actor: User, case_id: Any, view: str = "retention") -> RetentionOverview:
    """The case's retention date and legal holds: two queries, and the audit event.

    Everyone who sees the case sees when it ends and whether a hold keeps
    it; the holds' reasons, and the past holds, are the coordinator's.
    """
    case = get_case_or_404(actor, case_id)
    manage = may_manage_holds(actor, case)
    today = timezone.localdate()
    holds = LegalHold.objects.filter(case_id=case.pk).select_related("placed_by", "released_by")
    if not manage:
        holds = holds.filter(active_holds(today))
    rows = [
        HoldRow(hold=h, active=h.released_at is None and h.until >= today)
        for h in holds.order_by("-placed_at", "-pk")
    ]
    partnership = case.partnership
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": view, "holds": [row.hold.pk for row in rows]},
    )
    return RetentionOverview(
        case=case,
        years=partnership.retention_years,
        action=partnership.retention_action,
        action_label=str(RetentionAction(partnership.retention_action).label),
        due_on=retention_due_on(case.closed_on, partnership.retention_years),
        applies=case.status in RETAINED_STATUSES,
        holds=rows,
        manage=manage,
    )


def legal_hold_check(*, actor: User, case_id: Any) -> Case:
    """For the case page's forms: 404 if the actor does not see the case through
    the policy (a data-protection officer included: they use the reference),
    403 unless they coordinate it. Shows nothing, so it is not a consultation.
    """
    return _case_for_coordinator(actor, case_id)


def require_dpo(actor: User) -> None:
    """403 for anyone but an auditor / data-protection officer of an organisation."""
    if not _is_dpo(actor):
        raise WriteForbidden


def dpo_holds(*, actor: User) -> list[LegalHold]:
    """The holds in force in the partnerships the DPO's organisation coordinates.

    Shows the case references (no other case data); audited as a list naming
    the cases. 403 for anyone but an auditor.
    """
    require_dpo(actor)
    holds = list(
        LegalHold.objects.filter(
            active_holds(timezone.localdate()),
            case__partnership__coordinating_organisation_id=actor.organisation_id,
            case__anonymised_at__isnull=True,
        )
        .select_related("case", "placed_by")
        .order_by("until", "pk")
    )
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[h.case_id for h in holds],
        detail={"view": "legal_holds", "holds": [h.pk for h in holds]},
    )
    return holds


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
    erasure request (``prepare.cases.erasure``), which checked the people
    first; here only the legal holds are checked. Returns the number of rows
    removed per table.
    """
    on = today or timezone.localdate()
    case = _lock_case(case_id)
    _refuse_if_held(case, on)
    person_id = case.person_id
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


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _month_start_dt(moment: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(moment)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@transaction.atomic
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
        },
    )
    return removed


# --- The daily job ----------------------------------------------------------------


@dataclass
class RetentionReport:
    """What one run did, by case id (ids only: this goes to logs)."""

    erased: list[int] = field(default_factory=list)
    anonymised: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.erased) + len(self.anonymised)


def _due_cases(on: datetime.date) -> Iterator[tuple[Case, bool]]:
    """(case, held) for every case past retention on ``on``, oldest closure first."""
    held = LegalHold.objects.filter(active_holds(on), case_id=OuterRef("pk"))
    for partnership in Partnership.objects.order_by("pk"):
        # A day of slack for 29 February; the exact date is checked below.
        cutoff = add_years(on, -partnership.retention_years) + datetime.timedelta(days=1)
        candidates = (
            Case.objects.filter(
                partnership=partnership,
                status__in=RETAINED_STATUSES,
                closed_on__isnull=False,
                closed_on__lte=cutoff,
                anonymised_at__isnull=True,
            )
            .annotate(held=Exists(held))
            .select_related("partnership")
            .order_by("closed_on", "pk")
        )
        for case in candidates:
            due = retention_due_on(case.closed_on, partnership.retention_years)
            if due is not None and due <= on:
                yield case, bool(case.held)  # type: ignore[attr-defined]


def retention_due(now: datetime.datetime | None = None) -> list[tuple[int, bool]]:
    """(case id, held) of the cases the job would handle now; ids only."""
    on = timezone.localdate(now) if now is not None else timezone.localdate()
    return [(case.pk, held) for case, held in _due_cases(on)]


def retention_run(now: datetime.datetime | None = None) -> RetentionReport:
    """Erase or anonymise every case past retention that no legal hold keeps.

    Each case in its own transaction (a failure leaves the others done and
    is reported); the case is locked and checked again inside it, so a
    second run, or two at once, do each case once.
    """
    on = timezone.localdate(now) if now is not None else timezone.localdate()
    report = RetentionReport()
    for case, held in list(_due_cases(on)):
        if held:
            report.held.append(case.pk)
            continue
        try:
            erase = case.partnership.retention_action == RetentionAction.ERASE
            with transaction.atomic():
                current = (
                    Case.objects.select_for_update()
                    .filter(
                        pk=case.pk,
                        status__in=RETAINED_STATUSES,
                        closed_on=case.closed_on,
                        anonymised_at__isnull=True,
                    )
                    .exists()
                )
                if not current:
                    continue  # another run got there first, or the case moved on
                if erase:
                    case_erase(case_id=case.pk, today=on)
                else:
                    case_anonymise(case_id=case.pk, today=on)
        except LegalHoldActive:
            report.held.append(case.pk)
            continue
        except Exception:
            # Ids only in the log: the exception text could quote case data.
            logger.error("retention: case %s could not be processed", case.pk)
            report.failed.append(case.pk)
            continue
        (report.erased if erase else report.anonymised).append(case.pk)
    if report.done or report.failed:
        logger.info(
            "retention: %d erased, %d anonymised, %d held, %d failed",
            len(report.erased),
            len(report.anonymised),
            len(report.held),
            len(report.failed),
        )
    return report
