"""Writes of assessments: each one transaction and one audit event.

An assessment is started with the latest version of an instrument and stays
pinned to it. A draft is saved whole with the version it was read at (a stale
save is refused, nothing is overwritten). Completing needs every item rated,
the evidence an item asks for, the final judgement and its rationale; it
locks the assessment. A second assessor may countersign it. A correction is a
new draft naming the assessment it corrects, which stays as it was.

The audit events name fields and item ids, never what was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.assessing import (
    assessable_categories,
    assessment_for,
    case_for_assessing,
    is_qualified,
    may_countersign,
    require_training,
)
from prepare.access.categories import Action
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import parse_pk
from prepare.accounts.models import User
from prepare.assessments.content import UNKNOWN_KEYS, InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus, Instrument, InstrumentVersion
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.services import case_record_update, case_touch
from prepare.locking import StaleVersion

MAX_TEXT = 10_000
MAX_SCENARIOS = 20


def latest_version(instrument: Instrument) -> InstrumentVersion | None:
    return instrument.versions.order_by("-loaded_at", "-pk").first()


@dataclass
class Draft:
    """What a save carries: every part is optional (None: unchanged)."""

    ratings: dict[str, Any] | None = None
    scenarios: list[Any] | None = None
    management_plan: dict[str, Any] | None = None
    judgement: str | None = None
    rationale: str | None = None


def _text(value: Any, where: str, errors: dict[str, list[str]]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.setdefault(where, []).append(_("Enter text."))
        return ""
    value = value.strip()
    if len(value) > MAX_TEXT:
        errors.setdefault(where, []).append(
            _("Keep this under %(max)d characters.") % {"max": MAX_TEXT}
        )
    return value


def clean_ratings(content: InstrumentContent, raw: Any) -> dict[str, dict[str, str]]:
    """The ratings, checked against the pinned version: known items and levels only."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        raise ValidationError({"ratings": _("Give the ratings as a mapping of item to rating.")})
    items = content.item_map()
    out: dict[str, dict[str, str]] = {}
    for item_id, rating in raw.items():
        where = f"ratings.{item_id}"
        item = items.get(item_id)
        if item is None:
            errors.setdefault("ratings", []).append(
                _('"%(item)s" is not an item of this instrument.') % {"item": str(item_id)[:64]}
            )
            continue
        if not isinstance(rating, dict) or set(rating) - {"presence", "relevance", "evidence"}:
            errors.setdefault(where, []).append(
                _("A rating has a presence, a relevance and evidence, nothing else.")
            )
            continue
        presence = rating.get("presence") or ""
        relevance = rating.get("relevance") or ""
        if not isinstance(presence, str) or (presence and item.level(presence) is None):
            errors.setdefault(where, []).append(_("Choose one of the item's ratings."))
            continue
        if not isinstance(relevance, str) or (
            relevance and item.relevance_level(relevance) is None
        ):
            errors.setdefault(where, []).append(_("Choose one of the relevance ratings."))
            continue
        evidence = _text(rating.get("evidence"), where, errors)
        kept = {"presence": presence, "relevance": relevance, "evidence": evidence}
        if any(kept.values()):
            out[item_id] = kept
    if errors:
        raise ValidationError(errors)
    return out


def clean_scenarios(content: InstrumentContent, raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or len(raw) > MAX_SCENARIOS:
        raise ValidationError(
            {"scenarios": _("Give at most %(max)d scenarios.") % {"max": MAX_SCENARIOS}}
        )
    if raw and not content.has_scenarios:
        raise ValidationError({"scenarios": _("This instrument has no scenarios.")})
    likelihoods = {lv.key for lv in content.likelihood_levels()}
    errors: dict[str, list[str]] = {}
    out = []
    for n, scenario in enumerate(raw):
        where = f"scenarios[{n}]"
        if not isinstance(scenario, dict) or set(scenario) - {
            "description",
            "likelihood",
            "prevention",
        }:
            errors.setdefault(where, []).append(
                _("A scenario has a description, a likelihood and what would prevent it.")
            )
            continue
        likelihood = scenario.get("likelihood") or ""
        if not isinstance(likelihood, str) or (likelihood and likelihood not in likelihoods):
            errors.setdefault(where, []).append(_("Choose one of the likelihoods."))
            continue
        kept = {
            "description": _text(scenario.get("description"), where, errors),
            "likelihood": likelihood,
            "prevention": _text(scenario.get("prevention"), where, errors),
        }
        if any(kept.values()):
            out.append(kept)
    if errors:
        raise ValidationError(errors)
    return out


def clean_plan(content: InstrumentContent, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValidationError({"management_plan": _("Give the plan as a mapping of sections.")})
    sections = {s.id for s in content.plan_sections()}
    errors: dict[str, list[str]] = {}
    out = {}
    for key, value in raw.items():
        if key not in sections:
            errors.setdefault("management_plan", []).append(
                _('"%(section)s" is not a section of this plan.') % {"section": str(key)[:64]}
            )
            continue
        text = _text(value, f"management_plan.{key}", errors)
        if text:
            out[key] = text
    if errors:
        raise ValidationError(errors)
    return out


def _clean_judgement(content: InstrumentContent, raw: Any) -> str:
    if raw in (None, ""):
        return ""
    if not isinstance(raw, str) or content.judgement_level(raw) is None:
        raise ValidationError({"judgement": _("Choose one of the judgement's levels.")})
    return raw


def _searchable(a: Assessment) -> str:
    parts = [r.get("evidence", "") for r in a.ratings.values()]
    parts += [s.get(k, "") for s in a.scenarios for k in ("description", "prevention")]
    parts += list(a.management_plan.values())
    parts.append(a.rationale)
    return " ".join(p for p in parts if p)[:100_000]


def _changes(a: Assessment, content: InstrumentContent, draft: Draft) -> dict[str, Any]:
    """The checked new values of the parts the draft names that differ."""
    new: dict[str, Any] = {}
    if draft.ratings is not None:
        new["ratings"] = clean_ratings(content, draft.ratings)
    if draft.scenarios is not None:
        new["scenarios"] = clean_scenarios(content, draft.scenarios)
    if draft.management_plan is not None:
        new["management_plan"] = clean_plan(content, draft.management_plan)
    if draft.judgement is not None:
        new["judgement"] = _clean_judgement(content, draft.judgement)
    if draft.rationale is not None:
        errors: dict[str, list[str]] = {}
        new["rationale"] = _text(draft.rationale, "rationale", errors)
        if errors:
            raise ValidationError(errors)
    return {k: v for k, v in new.items() if getattr(a, k) != v}


def _changed_items(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _draft_for_change(actor: User, assessment_id: Any, case_id: Any) -> Assessment:
    a = assessment_for(actor, assessment_id, case_id=case_id, action=Action.WRITE)
    if not a.is_draft:
        raise WriteForbidden(
            _(
                "This assessment is completed and locked. To change it, start a correction: "
                "the assessment as it is stays on record."
            )
        )
    require_training(actor, InstrumentContent(a.instrument_version.content).training)
    return a


def draft_for_change(*, actor: User, assessment_id: Any, case_id: Any = None) -> Assessment:
    """The draft, for a page about to change it (not audited: the change is):
    404 unless readable on ``case_id``, 403 unless the actor may change it now
    (its organisation, writing its category, trained, still a draft)."""
    return _draft_for_change(actor, assessment_id, case_id)


# --- Starting ----------------------------------------------------------------------


def _instrument_version(instrument_id: Any) -> InstrumentVersion:
    """The latest version of an instrument, by identifier or primary key."""
    pk = parse_pk(instrument_id)
    lookup: dict[str, Any] = (
        {"pk": pk} if pk is not None else {"identifier": str(instrument_id)[:64]}
    )
    instrument = Instrument.objects.filter(**lookup).first()
    version = latest_version(instrument) if instrument is not None else None
    if version is None:
        raise ValidationError({"instrument": _("Choose one of the instruments offered.")})
    return version


@transaction.atomic
def assessment_start(*, actor: User, case_id: Any, instrument: Any) -> Assessment:
    """A new draft on the case with the latest version of ``instrument``."""
    version = _instrument_version(instrument)
    case = case_for_assessing(actor, case_id, version.instrument.category)
    require_training(actor, InstrumentContent(version.content).training)
    if actor.organisation_id is None:
        raise WriteForbidden
    now = timezone.now()
    a = Assessment(
        case=case,
        category=version.instrument.category,
        instrument_version=version,
        organisation_id=actor.organisation_id,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    a.full_clean(exclude=["case", "organisation", "created_by", "updated_by"])
    a.save()
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=a,
        category=a.category,
        detail={"instrument": version.instrument.identifier, "instrument_version": version.version},
    )
    return a


# --- Saving and completing ---------------------------------------------------------


def _save(actor: User, a: Assessment, version: int, changes: dict[str, Any], detail: dict) -> None:
    fields = sorted(changes)
    items = _changed_items(a.ratings, changes["ratings"]) if "ratings" in changes else []
    probe = {**{k: getattr(a, k) for k in ("ratings", "scenarios", "management_plan")}, **changes}
    probe_a = Assessment(
        ratings=probe["ratings"],
        scenarios=probe["scenarios"],
        management_plan=probe["management_plan"],
        rationale=changes.get("rationale", a.rationale),
    )
    changes = {**changes, "searchable_text": _searchable(probe_a)}
    case_record_update(
        actor=actor,
        record=a,
        version=version,
        changes=changes,
        detail={"fields": fields, "items": items[:200], **detail},
    )


@transaction.atomic
def assessment_save(
    *, actor: User, assessment_id: Any, version: int, draft: Draft, case_id: Any = None
) -> Assessment:
    """Save a draft: refused if ``version`` is stale (``StaleVersion``), nothing
    written if nothing changed."""
    a = _draft_for_change(actor, assessment_id, case_id)
    content = InstrumentContent(a.instrument_version.content)
    changes = _changes(a, content, draft)
    if not changes:
        if a.version != version:
            raise StaleVersion
        return a
    _save(actor, a, version, changes, {})
    return a


def completion_problems(a: Assessment, content: InstrumentContent) -> dict[str, list[str]]:
    """What keeps a draft from being completed, by field (empty: nothing)."""
    problems: dict[str, list[str]] = {}
    for item in content.items():
        rating = a.ratings.get(item.id) or {}
        where = f"ratings.{item.id}"
        if not rating.get("presence"):
            problems.setdefault(where, []).append(_("Rate this item."))
        elif (
            item.evidence_required
            and rating["presence"] not in UNKNOWN_KEYS
            and not rating.get("evidence")
        ):
            problems.setdefault(where, []).append(_("Give the evidence for this rating."))
    if not a.judgement:
        problems.setdefault("judgement", []).append(_("Give your final judgement."))
    if not a.rationale:
        problems.setdefault("rationale", []).append(_("Explain the reasons for your judgement."))
    return problems


@transaction.atomic
def assessment_complete(
    *,
    actor: User,
    assessment_id: Any,
    version: int,
    draft: Draft | None = None,
    case_id: Any = None,
) -> Assessment:
    """Save what ``draft`` carries, then complete: every item rated, the
    evidence asked for, the judgement and its rationale. Locks the assessment
    and sets the next review from the instrument's interval."""
    a = _draft_for_change(actor, assessment_id, case_id)
    content = InstrumentContent(a.instrument_version.content)
    changes = _changes(a, content, draft or Draft())
    probe = Assessment(**{**{f: getattr(a, f) for f in _PARTS}, **changes})
    problems = completion_problems(probe, content)
    if problems:
        raise ValidationError(problems)
    now = timezone.now()
    today = timezone.localdate(now)
    changes.update(
        status=AssessmentStatus.COMPLETED,
        completed_at=now,
        completed_by=actor,
        review_due_on=content.review_due(today),
    )
    _save(actor, a, version, changes, {"completed": True})
    return a


_PARTS = ("ratings", "scenarios", "management_plan", "judgement", "rationale")


@transaction.atomic
def assessment_countersign(
    *, actor: User, assessment_id: Any, version: int, case_id: Any = None
) -> Assessment:
    """A second assessor confirms a completed assessment."""
    a = assessment_for(actor, assessment_id, case_id=case_id)
    content = InstrumentContent(a.instrument_version.content)
    writable = assessable_categories(actor, a.case)
    if not may_countersign(
        actor, a, writable=writable, qualified=is_qualified(actor, content.training)
    ):
        if a.status != AssessmentStatus.COMPLETED:
            raise WriteForbidden(_("Only a completed assessment can be countersigned."))
        if actor.pk in {a.created_by_id, a.completed_by_id}:
            raise WriteForbidden(_("A second assessor countersigns: not the assessor."))
        require_training(actor, content.training)
        raise WriteForbidden
    case_record_update(
        actor=actor,
        record=a,
        version=version,
        changes={
            "status": AssessmentStatus.COUNTERSIGNED,
            "countersigned_at": timezone.now(),
            "countersigned_by": actor,
        },
        detail={"fields": ["status"], "countersigned": True},
    )
    return a


@transaction.atomic
def assessment_correct(*, actor: User, assessment_id: Any, case_id: Any = None) -> Assessment:
    """A draft correction of a completed assessment, with the same instrument
    version and its content to start from. An open correction is returned
    rather than a second one started."""
    old = assessment_for(actor, assessment_id, case_id=case_id)
    if old.is_draft:
        raise WriteForbidden(_("A draft is changed directly; it needs no correction."))
    if old.organisation_id != actor.organisation_id:
        raise WriteForbidden(_("Only the assessor's organisation corrects an assessment."))
    case = case_for_assessing(actor, old.case_id, old.category)
    require_training(actor, InstrumentContent(old.instrument_version.content).training)
    open_one = (
        Assessment.objects.of_case(case).filter(corrects=old, status=AssessmentStatus.DRAFT).first()
    )
    if open_one is not None:
        return open_one
    now = timezone.now()
    a = Assessment(
        case=case,
        category=old.category,
        instrument_version_id=old.instrument_version_id,
        organisation_id=actor.organisation_id,
        ratings=old.ratings,
        scenarios=old.scenarios,
        management_plan=old.management_plan,
        judgement=old.judgement,
        rationale=old.rationale,
        searchable_text=old.searchable_text,
        corrects=old,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    a.save()
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=a,
        category=a.category,
        detail={"corrects": old.pk},
    )
    return a


@transaction.atomic
def assessment_discard(
    *, actor: User, assessment_id: Any, version: int, case_id: Any = None
) -> int:
    """Delete a draft started by mistake (never a completed assessment)."""
    a = _draft_for_change(actor, assessment_id, case_id)
    if a.version != version:
        raise StaleVersion
    case_id_of = a.case_id
    pk = a.pk
    audit_record(
        action=EventAction.DELETE,
        actor=actor,
        case=a.case,
        obj=a,
        category=a.category,
        detail={"draft": True},
    )
    deleted, _rows = Assessment.objects.filter(pk=pk, version=version).delete()
    if not deleted:
        raise NotVisible
    case_touch(a.case)
    return case_id_of
