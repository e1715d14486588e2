"""Who may assess, edit a draft, countersign and read assessments.

An assessment is a case record in its instrument's category: reading it is
``record_filter`` like any record. Writing needs the category granted for
writing on the case; a draft is edited only by the assessor's organisation;
an instrument that requires a training is used only by someone with a
current record of it; countersigning needs a second person who may write the
category (and holds the training) on the case.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    categories_of,
    get_case_or_404,
    grants_for,
    parse_pk,
    visible_cases,
)

if TYPE_CHECKING:
    from prepare.assessments.models import Assessment
    from prepare.cases.models import Case


def qualified_trainings(
    user: Any, trainings: set[str], day: datetime.date | None = None
) -> set[str]:
    """Which of ``trainings`` the user holds a current record of (one query, none
    if nothing is asked)."""
    from prepare.accounts.models import TrainingRecord

    wanted = {t for t in trainings if t}
    if not wanted or not getattr(user, "is_authenticated", False):
        return set()
    today = day or timezone.localdate()
    rows = TrainingRecord.objects.filter(
        Q(expires_on__isnull=True) | Q(expires_on__gt=today),
        user_id=user.pk,
        training__in=sorted(wanted),
        completed_on__lte=today,
    ).values_list("training", flat=True)
    return set(rows)


def is_qualified(user: Any, training: str | None) -> bool:
    return not training or training in qualified_trainings(user, {training})


def require_training(user: Any, training: str | None) -> None:
    if not is_qualified(user, training):
        raise WriteForbidden(
            _(
                "This instrument may be used only by practitioners with a current record of "
                'the training "%(training)s". Ask your organisation to record it.'
            )
            % {"training": training}
        )


def assessable_categories(user: Any, case: Case) -> frozenset[str]:
    """The categories in which the user may start an assessment on ``case``:
    those the agreement lets them write there (none unless they may write on
    the case)."""
    g = grants_for(user)
    if not g.writes_cases:
        return frozenset()
    return categories_of(user, case.partnership_id, Action.WRITE)


def case_for_assessing(user: Any, case_id: Any, category: str) -> Case:
    """The case, to start an assessment in ``category``: 404 unless visible,
    403 unless the category is writable there."""
    case = get_case_or_404(user, case_id, Action.WRITE)
    if category not in assessable_categories(user, case):
        raise WriteForbidden
    return case


def assessment_edit_filter(user: Any) -> Q:
    """The assessments the user may change: writable through the policy and
    started by their own organisation."""
    from prepare.access.policy import record_filter

    g = grants_for(user)
    if not g.writes_cases or g.organisation_id is None:
        return Q(pk__in=[])
    return record_filter(user, Action.WRITE) & Q(organisation_id=g.organisation_id)


def assessment_for(
    user: Any, assessment_id: Any, *, case_id: Any = None, action: str = Action.READ
) -> Assessment:
    """One assessment for ``action``: 404 unless readable (and on ``case_id``
    when given); for writing, 403 unless writable by the user's organisation."""
    from prepare.assessments.models import Assessment

    pk = parse_pk(assessment_id)
    if pk is None:
        raise NotVisible
    rows = Assessment.objects.visible_to(user, Action.READ).filter(pk=pk)
    if case_id is not None:
        case_pk = parse_pk(case_id)
        if case_pk is None:
            raise NotVisible
        rows = rows.filter(case_id=case_pk)
    found = rows.select_related("case", "case__partnership", "instrument_version").first()
    if found is None:
        raise NotVisible
    if action == Action.WRITE and not (
        Assessment.objects.filter(assessment_edit_filter(user), pk=found.pk).exists()
    ):
        raise WriteForbidden
    return found


def may_edit(user: Any, assessment: Assessment, *, writable: frozenset[str]) -> bool:
    """Whether to offer editing a draft (``writable``: the user's write
    categories on the case, from ``assessable_categories``)."""
    return (
        assessment.is_draft
        and assessment.category in writable
        and assessment.organisation_id == getattr(user, "organisation_id", None)
    )


def may_countersign(
    user: Any, assessment: Assessment, *, writable: frozenset[str], qualified: bool
) -> bool:
    """A second assessor: someone other than whoever started or completed it,
    who may write its category on the case and holds any required training."""
    from prepare.assessments.models import AssessmentStatus

    return (
        assessment.status == AssessmentStatus.COMPLETED
        and assessment.category in writable
        and qualified
        and user.pk not in {assessment.created_by_id, assessment.completed_by_id}
    )


def may_correct(user: Any, assessment: Assessment, *, writable: frozenset[str]) -> bool:
    """A completed assessment is corrected by a new one, by its organisation."""
    return (
        not assessment.is_draft
        and assessment.category in writable
        and assessment.organisation_id == getattr(user, "organisation_id", None)
    )


def assessors_of(
    users: Mapping[int, Any],
    cases_of: Mapping[int, set[int]],
    partnership_of: Mapping[int, int],
    category: str,
    training: str | None = None,
) -> dict[int, set[int]]:
    """Per case, which of the given users may assess in ``category`` on it: write
    the category there through the case team or as its coordinator (not through
    emergency access or a transfer's grace period, which are read-only), and hold
    ``training`` when the instrument asks for one. Who is reminded that an
    assessment's review is due.

    ``users`` maps user id to user, ``cases_of`` user id to candidate case ids,
    ``partnership_of`` case id to its partnership."""
    allowed: dict[int, set[int]] = {}
    for uid, user in sorted(users.items()):
        g = grants_for(user)
        cases = sorted(
            c for c in cases_of.get(uid, ()) if g.may(partnership_of[c], category, Action.WRITE)
        )
        if not cases or (training and not is_qualified(user, training)):
            continue
        reachable = visible_cases(user, Action.WRITE).filter(pk__in=cases)
        for case_id in reachable.values_list("pk", flat=True):
            allowed.setdefault(case_id, set()).add(uid)
    return allowed
